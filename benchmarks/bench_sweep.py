"""Sweep benchmark: throughput of a 200-run sweep on 1 process, 2 local processes and a
2-worker Dask LocalCluster; efficiency relative to linear scaling; scheduling overhead per run.

Run with ``.venv/bin/python benchmarks/bench_sweep.py`` (about 3 minutes on 2 cores); it
prints a Markdown table to paste into BENCHMARKS.md. The sweep is the baseline scenario cut
to a 7-day horizon (a run takes about a third of a second), 20 grid points (daily cap x
commission) x 10 replications, every run streamed to a Parquet dataset as in real use.

Definitions: throughput = runs / wall time of the whole ``sim.sweep`` call (validation,
scheduling, transfers, Parquet writes and the final read included; a local pool's start-up
included, a Dask cluster's start-up reported apart since a cluster outlives one experiment);
efficiency = throughput / (workers x single-process throughput); overhead per run =
(wall time x workers - summed run times) / runs, i.e. worker time not spent simulating,
compared with the mean run time. "CPU share" is the runs' CPU time over their wall time: below
1 the workers were not getting their cores (another program was using the machine), which
lowers the throughput and efficiency but not the overhead figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import sim
from sim.experiments.executors import DaskExecutor

BASELINE = "scenarios/baseline.yaml"
GRID = {"platform.daily_cap": [10, 20, 30, 50, 100],
        "platform.commission": [0.1, 0.2, 0.3, 0.4]}
REPLICATIONS = 10


def measure(scn: sim.Scenario, executor: Any, processes: int | None, repeat: int
            ) -> dict[str, Any]:
    """Run the sweep ``repeat`` times and return the figures of the fastest run (wall time,
    summed run time, throughput, overhead); the machine may be shared, so the best is the
    least disturbed."""
    best: dict[str, Any] | None = None
    for _ in range(repeat):
        wait_for_quiet()
        m = _measure_once(scn, executor, processes)
        if best is None or m["wall"] < best["wall"]:
            best = m
    assert best is not None
    return best


def _measure_once(scn: sim.Scenario, executor: Any, processes: int | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = sim.sweep(scn, GRID, REPLICATIONS, seed=1, executor=executor, processes=processes,
                       progress=False)
    wall = time.perf_counter() - t0
    stats = result.stats
    runs = stats["runs_computed"]
    workers = stats["workers"]
    run_time = stats["compute_time"] / runs
    overhead = (wall * workers - stats["compute_time"]) / runs
    return {"runs": runs, "workers": workers, "wall": wall, "per_min": 60 * runs / wall,
            "run_time": run_time, "overhead": overhead, "overhead_share": overhead / run_time,
            "cpu_share": stats["compute_cpu_time"] / stats["compute_time"], "rows": result.runs}


QUIET_LOAD = 0.5
QUIET_WAIT = 60.0


def wait_for_quiet() -> None:
    """Wait (up to QUIET_WAIT seconds) until the 1-minute load average is below QUIET_LOAD,
    so that other programs on a shared machine disturb the measurement as little as possible."""
    deadline = time.monotonic() + QUIET_WAIT
    while os.getloadavg()[0] > QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(2)


def main() -> None:
    """Measure the three executors and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizon", default="7d", help="horizon of the baseline (default 7d)")
    parser.add_argument("--repeat", type=int, default=2, help="best of N sweeps (default 2)")
    args = parser.parse_args()
    scn = sim.override(sim.load_scenario(BASELINE), {"horizon": args.horizon})
    load = os.getloadavg()[0]
    rows = [("1 process (in-process)", measure(scn, "inprocess", 1, args.repeat))]
    rows.append(("2 processes (local pool)", measure(scn, "local", 2, args.repeat)))
    t0 = time.perf_counter()
    with DaskExecutor(None, workers=2) as dask:
        startup = time.perf_counter() - t0
        rows.append(("Dask LocalCluster, 2 workers", measure(scn, dask, None, args.repeat)))
    single = rows[0][1]["per_min"]
    same = all(r["rows"].equals(rows[0][1]["rows"]) for _, r in rows)
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
          f"baseline cut to {args.horizon}, {len(rows[0][1]['rows'])} runs "
          f"(20 points x {REPLICATIONS} replications), best of {args.repeat}; identical "
          f"tables: {same}; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after\n")
    print("| executor | wall time (s) | runs/min | efficiency vs linear | mean run (s) |"
          " overhead per run (ms) | overhead / run time | CPU share |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in rows:
        efficiency = m["per_min"] / (m["workers"] * single)
        print(f"| {name} | {m['wall']:.1f} | {m['per_min']:.0f} | {efficiency:.2f} |"
              f" {m['run_time']:.3f} | {1000 * m['overhead']:.1f} |"
              f" {100 * m['overhead_share']:.1f} % | {m['cpu_share']:.2f} |")
    print(f"\nDask LocalCluster start-up (2 worker processes), not in the figures: "
          f"{startup:.1f} s")


if __name__ == "__main__":
    main()
