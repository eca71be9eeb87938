"""Standard policy comparison benchmark: scenarios/policies.yaml (6 variants x 20 replications
of the 30-day baseline) with 1 and with 2 processes. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from sim.experiments.compare import compare, load_comparison_spec


def main() -> None:
    """Time the standard comparison for each process count given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--replications", type=int, default=None)
    args = parser.parse_args()
    spec = load_comparison_spec("scenarios/policies.yaml")
    reps = args.replications or spec.replications
    print("| processes | runs | wall time (s) | runs per minute |")
    print("|---|---|---|---|")
    for processes in args.processes:
        with tempfile.TemporaryDirectory() as state:
            t0 = time.perf_counter()
            cmp = compare(spec.scenario, spec.variants, replications=reps, seed=spec.seed,
                          processes=processes, baseline=spec.baseline, state_dir=state,
                          progress=False)
            wall = time.perf_counter() - t0
        n = len(cmp.runs)
        print(f"| {processes} | {n} | {wall:.1f} | {60 * n / wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
