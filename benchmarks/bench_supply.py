"""Long-horizon benchmark of adaptive labour supply (issue 11): the baseline over 12 months
with every behaviour on, against the same 12 months with supply fixed.

Run with ``.venv/bin/python benchmarks/bench_supply.py``; it prints a Markdown table to paste
into BENCHMARKS.md. One process, one core; each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import platform
import time

import sim

BASELINE = "scenarios/baseline.yaml"
BEHAVIOURS = {
    "patience": {"dist": "exponential", "mean": "30min"},
    "continuation": {"probability": 0.5, "duration": "30min"},
    "target": {"daily": 5, "monthly": 60, "strength": 1.0},
    "leaving": {"expectation": 1.5, "base_rate": 0.05, "max_rate": 0.5},
    "learning": {"rate": 0.05, "floor": 0.7},
}


def every_behaviour(horizon: str) -> sim.Scenario:
    """The baseline with every adaptive behaviour in every profile, and registrations."""
    base = sim.load_scenario(BASELINE)
    changes = {f"profiles.{p}.supply": BEHAVIOURS for p in base.profiles}
    return sim.override(base, {**changes, "horizon": horizon,
                               "supply": {"joining": {"rate": 5}}})


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
    args = parser.parse_args()
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
