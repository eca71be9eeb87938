"""Run many cases of tests/test_properties.py without stopping at the first failure, and
group the failures by defect: exception type and where it was raised, or violated invariant.

Not collected by pytest (a tool for whoever fixes the defects the property test finds)::

    .venv/bin/python tests/fuzz_scenarios.py run --kind generated -n 2000 --seed 1 -o g1.jsonl
    .venv/bin/python tests/fuzz_scenarios.py run --kind mutated -n 2000 --seed 1 -o m1.jsonl
    .venv/bin/python tests/fuzz_scenarios.py report g1.jsonl m1.jsonl

``run`` draws cases with random (not derandomised) Hypothesis seeds, without shrinking, runs
each one bounded (``run_case``) and appends one JSON line per case; ``--skip-known`` skips
generated scenarios that trip the most frequent defects, so rarer ones show. ``report`` prints
one line per defect class (exception type and innermost frame of ``sim/``, or violated
invariant) with its count and the smallest case that shows it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed

from sim.durations import parse_duration
from tests.test_properties import Case, generated_cases, mutated_cases, run_case


def _seconds(value: Any) -> float:
    return parse_duration(value) if isinstance(value, int | float | str) else float("nan")


def _can_be_zero(dist: Any) -> bool:
    if not isinstance(dist, dict):
        return _seconds(dist) == 0
    values = {"constant": [dist.get("value")], "uniform": [dist.get("low")],
              "choice": dist.get("values", [])}.get(dist["dist"], [])
    return any(_seconds(v) == 0 for v in values) or dist.get("min") == dist.get("max")


def shows_known_defect(data: dict[str, Any]) -> bool:
    """Generated scenarios that trip the most frequent defects (see the report), skipped with
    --skip-known so that rarer ones show: shares off by less than the tolerance, an empty
    task_mix, no task posted, expiry 0, a speed or travel that can be 0 (or pareto min == max)."""
    req = data["requesters"]
    mixes = [req["task_mix"]] + [
        {str(i): d.get("share", 1.0) for i, d in enumerate(p["discovery"])}
        for p in data["profiles"].values() if isinstance(p["discovery"], list)]
    if any(not m or abs(sum(m.values()) - 1) > 1e-12 for m in mixes):
        return True
    days = _seconds(data["horizon"]) / 86400
    if req["batches_per_day"] * data.get("scale", 1.0) * days < 5:
        return True
    for tt in data["task_types"].values():
        if "expiry" in tt and _seconds(tt["expiry"]) == 0:
            return True
        if "travel" in tt and _can_be_zero(tt["travel"]):
            return True
    return any("speed" in p and _can_be_zero(p["speed"]) for p in data["profiles"].values())


def _normal(text: str) -> str:
    """A message with its numbers and quoted values blanked, to group alike failures."""
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", "N", text)
    return text[:110]


def signatures(record: dict[str, Any]) -> list[str]:
    """Defect classes a failing case shows (empty for a passing case)."""
    kind = record["kind"]
    if kind in ("ok", "refused", "refused_at_run"):
        return []
    if kind == "exception":
        return [f"{record['error']} in {record['phase']} at {record['where']}: "
                f"{_normal(record['message'])}"]
    if kind == "violations":
        out = []
        for problem in record["problems"]:
            head = re.split(r": \d+ rows|, e\.g\.", problem)[0]
            out.append("violation: " + _normal(head))
        return out
    return [f"{kind}: {_normal(record['message'])}"]


def run(kind: str, examples: int, seed: int, out: Path, skip_known: bool) -> None:
    strategy = generated_cases() if kind == "generated" else mutated_cases()
    with out.open("a") as sink:

        @hypothesis_seed(seed)
        @settings(max_examples=examples, phases=[Phase.generate], deadline=None,
                  database=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def each(case: Case) -> None:
            if skip_known and kind == "generated":
                assume(not shows_known_defect(case.data))
            outcome = run_case(case.data, case.seed)
            record = {**outcome.__dict__, "case": repr(case), "source": kind}
            sink.write(json.dumps(record, default=repr) + "\n")
            sink.flush()

        each()


def report(paths: list[Path]) -> None:
    records = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line]
    kinds: dict[str, int] = defaultdict(int)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        kinds[r["kind"]] += 1
        for sig in signatures(r):
            groups[sig].append(r)
    print(f"{len(records)} cases: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    slowest = max(records, key=lambda r: r["seconds"])
    print(f"slowest case {slowest['seconds']:.1f} s ({slowest['kind']})\n")
    for sig, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        smallest = min(rs, key=lambda r: len(r["case"]))
        print(f"[{len(rs)}] {sig}\n    {smallest['case'][:3000]}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--kind", choices=["generated", "mutated"], required=True)
    r.add_argument("-n", "--examples", type=int, default=500)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-o", "--out", type=Path, required=True)
    r.add_argument("--skip-known", action="store_true",
                   help="skip generated scenarios that trip the most frequent defects")
    g = sub.add_parser("report")
    g.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args.kind, args.examples, args.seed, args.out, args.skip_known)
    else:
        report(args.files)


if __name__ == "__main__":
    main()
