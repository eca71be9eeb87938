"""Instructions a simulation executes, counted by Valgrind: a speed measure that does not depend
on the machine's load.

Wall and CPU times on a shared machine vary by a third between runs of the same code (see
BENCHMARKS.md, stops 19 and 20), which hides changes of a few per cent. Valgrind's cachegrind
counts the machine instructions a process executes; the same run counted twice differs by
under 0.1 %. This script counts ``simulate`` of a scenario over a short horizon and over one
second (the setup, nearly alone), so that the difference is the simulation loop, for each
source tree given (for before/after comparisons: ``git worktree add /tmp/before <commit>``).

Needs ``valgrind`` (``sudo apt-get install valgrind``). A day of the whole French market takes
about 3 minutes under it, the baseline over 10 days about 20 s; trees are counted one after
the other. Instructions are not time: a change that saves cache misses and not instructions
does not show here, so confirm large changes with interleaved timings too.

    .venv/bin/python benchmarks/bench_instructions.py --horizon 1d /tmp/before .
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

RUN = """
import sys
sys.path.insert(0, sys.argv[1])
import sim
from sim.core.engine import simulate
scn = sim.override(sim.load_scenario(sys.argv[2]), {"horizon": sys.argv[3]})
simulate(scn, 0)
"""


# the same hashes in every process, and no OpenBLAS worker threads (their spin-waits, run one
# at a time under Valgrind, add a count that varies from run to run)
DETERMINISTIC = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}


def instructions(tree: Path, scenario: str, horizon: str) -> int:
    """Machine instructions of a fresh process simulating ``scenario`` from ``tree``."""
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", RUN, str(tree), str(tree / scenario), horizon],
        capture_output=True, text=True, check=True, env={**os.environ, **DETERMINISTIC})
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="*", type=Path, default=[Path(".")],
                        help="source trees to count (default: this one)")
    parser.add_argument("--scenario", default="scenarios/france_2019.yaml",
                        help="scenario path inside each tree")
    parser.add_argument("--horizon", default="1d", help="horizon of the counted run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (sudo apt-get install valgrind)")
    print(f"{args.scenario}, seed 0, machine instructions (Valgrind cachegrind)\n")
    print(f"| tree | setup (1 s horizon) | {args.horizon} | simulation ({args.horizon} - 1 s) |")
    print("|---|---|---|---|")
    for tree in args.trees:
        setup = instructions(tree.resolve(), args.scenario, "1s")
        total = instructions(tree.resolve(), args.scenario, args.horizon)
        print(f"| {tree} | {setup / 1e9:.2f} G | {total / 1e9:.2f} G "
              f"| {(total - setup) / 1e9:.2f} G |", flush=True)


if __name__ == "__main__":
    main()
