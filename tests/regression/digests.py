"""Regression digests: a fingerprint of the tables of every shipped scenario, one comparison
and one sweep, so that a change of results is always noticed and always deliberate.

Each case is run with fixed seeds on a short horizon; its tables are reduced to a SHA-256 of
their column names, dtypes and values (bit for bit: floats are hashed by their bytes). The
digests live in ``digests.json`` beside this file. ``tests/test_regression.py`` recomputes
them and fails on any difference; when a change of results is intended, regenerate them with

    .venv/bin/python -m tests.regression.digests --update

and say in the commit message (and the issue note) why the results changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import sim
from sim.experiments.compare import load_comparison_spec

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DIGEST_FILE = Path(__file__).with_name("digests.json")
SEEDS = (0, 1)
HORIZON = "2d"
TEST_WORKERS = 20_000
"""Most workers a shipped scenario is run with in the tests (a real-size market, such as
france_2019's 333,366 workers, is scaled down to about this: its full-size runs are
benchmarks, BENCHMARKS.md)."""


def at_test_size(scn: sim.Scenario) -> sim.Scenario:
    """``scn`` with ``scale`` reduced so that it has at most :data:`TEST_WORKERS` workers."""
    if scn.n_workers <= TEST_WORKERS:
        return scn
    return sim.override(scn, {"scale": scn.scale * TEST_WORKERS / scn.n_workers})
#: columns that legitimately differ between two identical runs (timings)
VOLATILE = ("wall_time", "cpu_time", "compute_time", "compute_cpu_time")


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, dtypes and values (bit for bit)."""
    frame = frame.drop(columns=[c for c in VOLATILE if c in frame.columns])
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(str(len(frame)).encode())
    if len(frame.columns):
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        h.update(np.ascontiguousarray(rows).tobytes())
    return h.hexdigest()


def summary_digest(summary: dict[str, float]) -> str:
    """SHA-256 of a summary dict, keys in order, values by their exact float representation."""
    text = json.dumps([(k, float(v).hex()) for k, v in summary.items()])
    return hashlib.sha256(text.encode()).hexdigest()


def _scenario_cases() -> dict[str, Callable[[], dict[str, str]]]:
    cases: dict[str, Callable[[], dict[str, str]]] = {}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        if "variants" in yaml.safe_load(path.read_text()):  # a comparison spec
            continue
        for seed in SEEDS:
            def case(path: Path = path, seed: int = seed) -> dict[str, str]:
                scn = at_test_size(sim.override(sim.load_scenario(path), {"horizon": HORIZON}))
                res = sim.run(scn, seed=seed)
                out = {"tasks": frame_digest(res.tasks), "workers": frame_digest(res.workers),
                       "summary": summary_digest(res.summary)}
                if res.registrations is not None:  # a market of several platforms
                    out["registrations"] = frame_digest(res.registrations)
                return out

            cases[f"run/{path.stem}/seed{seed}"] = case
    return cases


def _comparison_case() -> dict[str, str]:
    spec = load_comparison_spec(SCENARIOS / "policies.yaml")
    scn = sim.override(spec.scenario, {"horizon": "1d"})
    cmp = sim.compare(scn, spec.variants, replications=2, seed=1, processes=1, progress=False,
                      baseline=spec.baseline)
    return {"runs": frame_digest(cmp.runs), "table": frame_digest(cmp.table()),
            "paired": frame_digest(cmp.paired())}


def _sweep_case() -> dict[str, str]:
    scn = sim.override(sim.load_scenario(SCENARIOS / "baseline.yaml"), {"horizon": "1d"})
    grid = {"platform.daily_cap": [20, None],
            "profiles.distressed.share,profiles.part_time.share": [[0.1, 0.62], [0.22, 0.5]]}
    res = sim.sweep(scn, grid, replications=2, seed=1, processes=1, progress=False)
    return {"runs": frame_digest(res.runs), "table": frame_digest(res.table())}


def cases() -> dict[str, Callable[[], dict[str, str]]]:
    """Every regression case by name: a function computing its digests."""
    return {**_scenario_cases(), "compare/policies": _comparison_case,
            "sweep/daily_cap_distressed": _sweep_case}


def load() -> dict[str, dict[str, str]]:
    """The stored digests."""
    return json.loads(DIGEST_FILE.read_text())


def main(argv: list[str] | None = None) -> int:
    """Print the digests that differ from the stored ones; ``--update`` rewrites the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite digests.json")
    args = parser.parse_args(argv)
    stored = load() if DIGEST_FILE.exists() else {}
    computed = {name: fn() for name, fn in cases().items()}
    changed = sorted(k for k in computed if stored.get(k) != computed[k])
    for name in changed:
        print(f"changed: {name}")
    if args.update:
        DIGEST_FILE.write_text(json.dumps(computed, indent=1, sort_keys=True) + "\n")
        print(f"wrote {DIGEST_FILE.relative_to(ROOT)} ({len(computed)} cases)")
    return 0 if args.update or not changed else 1


if __name__ == "__main__":
    sys.exit(main())
