"""Long-horizon benchmark of adaptive labour supply (issue 11): the baseline over 12 months
with every behaviour on, against the same 12 months with supply fixed.

Run with ``.venv/bin/python benchmarks/bench_supply.py`` (``--profile`` for where the time
goes); it prints a Markdown table to paste
into BENCHMARKS.md. One process, one core; each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import time
from pathlib import Path

import sim

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml"


def every_behaviour(horizon: str) -> sim.Scenario:
    """The baseline with its adaptive supply switched on: patience, continuation, learning
    and leaving in every profile, monthly targets for part-timers and the distressed, and
    registrations following market pay (the sections of scenarios/baseline.yaml)."""
    return sim.override(sim.load_scenario(BASELINE), {"horizon": horizon,
                                                      "supply.adaptive": True})


def best(scn: sim.Scenario, repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs and the number of tasks posted."""
    walls, tasks = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = sim.run(scn, seed=1)
        walls.append(time.perf_counter() - t0)
        tasks = len(res.tasks)
    return min(walls), tasks


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--horizon", default="365d")
    parser.add_argument("--profile", action="store_true",
                        help="profile one adaptive run (cProfile, top functions by own time)")
    args = parser.parse_args()
    if args.profile:
        cProfile.runctx("sim.run(scn, seed=1)", {"sim": sim},
                        {"scn": every_behaviour(args.horizon)}, "bench_supply.prof")
        pstats.Stats("bench_supply.prof").sort_stats("tottime").print_stats(15)
        return
    adaptive = every_behaviour(args.horizon)
    fixed = sim.override(adaptive, {"supply.adaptive": False})
    print(f"python {platform.python_version()}, {platform.machine()}, one core\n")
    print("| baseline, " + args.horizon + " | tasks | wall time (s) | microseconds per task |")
    print("|---|---|---|---|")
    rows = {}
    for name, scn in (("supply fixed", fixed), ("every behaviour on", adaptive)):
        wall, tasks = best(scn, args.repeat)
        rows[name] = wall / tasks
        print(f"| {name} | {tasks:,} | {wall:.1f} | {1e6 * wall / tasks:.1f} |")
    print(f"\ncost per task, adaptive over fixed: "
          f"{rows['every behaviour on'] / rows['supply fixed']:.2f}x")


if __name__ == "__main__":
    main()
