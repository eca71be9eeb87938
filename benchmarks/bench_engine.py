"""Engine benchmark: tasks per second, SimPy events per task, race vs literal polling, and
markets at their real size.

Run with ``python3 dev.py bench``; it prints Markdown tables to paste into BENCHMARKS.md.
Each figure is the best of ``--repeat`` runs on one core (one process, no pool). The market
cases (France 2019 at scale 0.15, i.e. a 50,005-worker platform, and with ``--full`` the whole
333,366 workers) run once each in a fresh process, which reports its own peak memory; they
time ``sim.run`` (simulation and tables), not the command's file output.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import sim

BASELINE = "scenarios/baseline.yaml"
FRANCE_POOL = "scenarios/france_2019_pool.yaml"
FRANCE = "scenarios/france_2019.yaml"
PLATFORMS = "scenarios/platforms_market.yaml"


def fast_refresh(scn: sim.Scenario, interval: str) -> sim.Scenario:
    """Every profile refreshes periodically every ``interval`` (the polling engine's worst case)."""
    changes = {
        f"profiles.{name}.discovery": {"mode": "refresh", "interval": interval}
        for name in scn.profiles
    }
    return sim.override(scn, changes)


def measure(scn: sim.Scenario, repeat: int, seed: int = 1) -> dict[str, float]:
    """Best wall time over ``repeat`` runs, with tasks/s and events/task of that run."""
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = sim.run(scn, seed=seed)
        wall = time.perf_counter() - t0
        if best is None or wall < best["wall"]:
            n = len(res.tasks)
            best = {"wall": wall, "tasks": n, "tasks_per_s": n / wall,
                    "events_per_task": res.stats["events_per_task"], "events": res.stats["events"]}
    return best


def market_case(path: str, scale: float) -> dict[str, float]:
    """The scenario ``path`` at ``scale`` for 30 days, once; with the process's peak memory
    (GiB)."""
    scn = sim.override(sim.load_scenario(path), {"scale": scale})
    cpu = time.process_time()
    m = measure(scn, 1)
    m["cpu"] = time.process_time() - cpu
    m["workers"] = scn.n_workers
    m["peak_gib"] = own_peak_gib()
    return m


def own_peak_gib() -> float:
    """This process's own peak resident memory (GiB): ``VmHWM`` where Linux has it, not
    ``ru_maxrss``, which Linux carries over ``exec`` from the parent (a spawned worker would
    report the benchmark process's peak if that was higher)."""
    try:
        with open("/proc/self/status") as status:
            hwm = next(line for line in status if line.startswith("VmHWM:"))
        return int(hwm.split()[1]) / 2**20  # kB
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def markets(full: bool) -> None:
    """Run each market case in a fresh process and print their table: a 50,000-worker platform
    (the one-pool France at scale 0.15) and, with ``full``, the whole French market (23
    platforms, 333,366 workers)."""
    print("\n| market (30 d) | workers | tasks | wall (s) | CPU (s) | tasks/s | SimPy events/task"
          " | peak memory (GiB) |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [("one platform, France 2019 pool at scale 0.15", FRANCE_POOL, 0.15)]
    if full:
        cases.append(("the whole French market (france_2019.yaml)", FRANCE, 1.0))
    for name, path, scale in cases:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            m = pool.submit(market_case, path, scale).result()
        print(f"| {name} | {m['workers']:,} | {m['tasks']:,} |"
              f" {m['wall']:.1f} | {m['cpu']:.1f} | {m['tasks_per_s']:,.0f} |"
              f" {m['events_per_task']:.2f} | {m['peak_gib']:.2f} |")


def main() -> None:
    """Measure the scenarios of the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true",
                        help="also the whole French market (333,366 workers, a few minutes)")
    parser.add_argument("--markets-only", action="store_true",
                        help="only the market cases (a 50,000-worker platform, and the whole "
                             "French market with --full)")
    args = parser.parse_args()
    if args.markets_only:
        markets(args.full)
        return
    base = sim.load_scenario(BASELINE)
    big = sim.override(base, {"workers": 20_000,
                              "requesters.batches_per_day": base.requesters.batches_per_day * 10})
    rows = [("baseline (2,000 workers, 30 d)", measure(base, args.repeat)),
            ("20,000 workers, 10x tasks, 30 d", measure(big, max(1, args.repeat - 2))),
            ("the baseline as three platforms (platforms_market.yaml, 30 d)",
             measure(sim.load_scenario(PLATFORMS), args.repeat))]
    print(f"python {platform.python_version()}, {platform.machine()}, simpy, one core\n")
    print("| scenario | tasks | wall time (s) | tasks/s | SimPy events/task |")
    print("|---|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | {m['tasks']:,} | {m['wall']:.2f} | {m['tasks_per_s']:,.0f} |"
              f" {m['events_per_task']:.2f} |")
    print("\n| scenario (7 d) | race (s) | polling (s) | speed-up | race events | polling events |")
    print("|---|---|---|---|---|---|")
    for interval in ("2s", "5s", "1min"):
        scn = sim.override(fast_refresh(base, interval), {"horizon": "7d"})
        race = measure(scn, args.repeat)
        poll = measure(sim.override(scn, {"engine": "polling"}), 1)
        print(f"| baseline, everyone refreshing every {interval} | {race['wall']:.2f} |"
              f" {poll['wall']:.2f} | {poll['wall'] / race['wall']:.0f}x |"
              f" {race['events']:,} | {poll['events']:,} |")
    scn = sim.override(base, {"horizon": "7d"})
    race, poll = measure(scn, args.repeat), measure(sim.override(scn, {"engine": "polling"}), 1)
    print(f"| baseline as shipped | {race['wall']:.2f} | {poll['wall']:.2f} |"
          f" {poll['wall'] / race['wall']:.0f}x | {race['events']:,} | {poll['events']:,} |")
    markets(args.full)


if __name__ == "__main__":
    main()
