"""The ``microwork`` command: run a scenario from the shell, check and describe it, or
compare variants of it.

``microwork run SCENARIO`` simulates it, prints a summary table and writes the result folder
(tables, summary, manifest, plots) atomically; ``microwork validate SCENARIO`` checks it and
says in words what it simulates; ``microwork compare SCENARIO_OR_SPEC`` runs variants over
paired replications and writes their comparison, resuming after an interruption. Bad input
prints ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sim.foundation.errors import MicroworkError, ScenarioError, StoreError, UsageError, shown
from sim.foundation.progress import HorizonProgress
from sim.results.storage import (
    StateLayout,
    check_replaceable,
    safe_name,
    staged_folder,
    write_manifest,
)
from sim.scenario.yaml_io import parse_yaml

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DEFAULT_REPLICATIONS = 20
DEFAULT_COMPARE_SEED = 1
PARTIAL_SUFFIX = ".partial"
"""``<out>.partial`` holds the finished runs of a comparison, sweep or sensitivity analysis
until its result folder is written."""
SPEC_KEYS = ("scenario", "variants", "baseline", "replications", "seed", "processes", "target")
COMPARE_DESCRIPTION = """\
Run every variant of SCENARIO_OR_SPEC REPLICATIONS times, replication r of every variant
with the same seed (same workers, same task arrivals); print each headline metric per
variant with its 95% interval and the paired difference to the baseline; write
runs.parquet, table.csv, paired.csv, manifest.json and plots to a result folder
(atomically). Finished runs are kept in the sibling folder <out>.partial meanwhile: after
an interruption (Ctrl-C) the same command resumes where it stopped (--repair first deletes
damaged run files found there, whose runs are then computed again).
"""
COMPARE_EPILOG = """\
variants:
  --variant NAME:PATH=VALUE[,PATH=VALUE...] adds a variant: dotted scenario paths as with
  --set, values parsed as YAML. Overrides are separated by commas outside brackets, braces
  and quotes, so lists, mappings and quoted strings may contain commas; quote a plain string
  that contains one. "NAME:" alone is the scenario as it is. Quote the whole argument for
  the shell:
    --variant fcfs:
    --variant lottery:platform.allocation.rule=lottery,platform.allocation.window=5min
    --variant 'rr:platform.allocation={rule: round_robin, window: 5min}'
    --variant capped:platform.daily_cap=100

examples:
  microwork compare scenarios/policies.yaml --replications 10 --processes 2
  microwork compare scenarios/policies.yaml --set horizon=7d --replications 5
  microwork compare scenarios/baseline.yaml --variant fcfs: \\
      --variant lottery:platform.allocation.rule=lottery --baseline fcfs
"""


# --------------------------------------------------------------------------- arguments


def _seed(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer (what ``SeedSequence`` accepts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _at_least(minimum: int) -> Any:
    """argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


def _assignment(option: str, item: str, text: str, example: str) -> tuple[str, Any]:
    """One ``PATH=VALUE`` of ``option`` (the whole argument ``item``) as a path and a value
    parsed as YAML; bad syntax raises UsageError naming the option and the argument."""
    path, sep, value = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UsageError(
            f"{option} {item!r}: expected PATH=VALUE with a dotted scenario path, e.g. {example}"
        )
    return path, parse_yaml(value, f"{option} {shown(item)}", UsageError) \
        if value.strip() else None


def parse_overrides(items: Sequence[str] | None) -> dict[str, Any]:
    """Turn ``--set path=value`` arguments into an override dict; values are parsed as YAML, so
    ``7``, ``0.5``, ``null``, ``[1, 2]`` and ``2h`` mean what they would in a scenario file."""
    changes: dict[str, Any] = {}
    example = "--set platform.allocation.rule=fcfs or --set horizon=7d"
    for item in items or []:
        path, value = _assignment("--set", item, item, example)
        changes[path] = value
    return changes


VARIANT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
"""Allowed variant names: they name files of the interrupted-run state."""
VARIANT_SYNTAX = "NAME:PATH=VALUE[,PATH=VALUE...] (or NAME: for the scenario as is)"


def _split_top_level(option: str, item: str, text: str) -> list[str]:
    """Split ``text`` at the commas that are outside brackets, braces and quoted strings (a
    quote opens a string only where a YAML value can start), so ``[1, 2]``, ``{a: 1, b: 2}``
    and ``"x, y"`` stay whole."""
    parts, start, depth, quote, prev = [], 0, 0, "", ","
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"" and prev in "=[{,:'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        if not ch.isspace():
            prev = ch
        i += 1
    if quote or depth:
        what = "a quoted string is not closed" if quote else "brackets or braces do not match"
        raise UsageError(f"{option} {item!r}: {what}")
    parts.append(text[start:])
    return parts


def parse_variant(item: str) -> tuple[str, dict[str, Any]]:
    """Parse a ``--variant NAME:PATH=VALUE[,PATH=VALUE...]`` argument into the variant's name
    and its dotted-path overrides.

    Values are YAML (as with ``--set``). Overrides are separated by commas outside brackets,
    braces and quotes, so a value may be a list ``[1, 2]``, a mapping ``{rule: lottery,
    window: 5min}`` or a quoted string ``"a, b"``; a bare string containing a comma must be
    quoted. ``NAME:`` alone is the scenario unchanged.
    """
    name, sep, rest = item.partition(":")
    name = name.strip()
    if not sep:
        raise UsageError(f"--variant {item!r}: expected {VARIANT_SYNTAX}")
    if not VARIANT_NAME.fullmatch(name):
        raise UsageError(
            f"--variant {item!r}: the name {name!r} must be letters, digits, '_', '.', '+' or "
            f"'-' (not starting with '.' or '-'); expected {VARIANT_SYNTAX}"
        )
    changes: dict[str, Any] = {}
    if not rest.strip():
        return name, changes
    example = "--variant lottery:platform.allocation.rule=lottery,platform.allocation.window=5min"
    for text in _split_top_level("--variant", item, rest):
        if not text.strip():
            raise UsageError(f"--variant {item!r}: empty override (stray comma?)")
        path, value = _assignment("--variant", item, text, example)
        if path in changes:
            raise UsageError(f"--variant {item!r}: {path!r} is given twice")
        changes[path] = value
    return name, changes


OUT_HELP = ("result folder (default: {}); an existing folder is replaced only if it is "
            "empty or a result of the same kind that microwork wrote")


def _max_memory_option(parser: argparse.ArgumentParser) -> None:
    """``--max-memory``: raise (or lower) the limit on a run's estimated memory."""
    from sim.scenario.size import DEFAULT_MAX_MEMORY, GIB

    parser.add_argument(
        "--max-memory", metavar="SIZE", help="largest estimated memory of a run, in GiB or with "
        f"a unit (e.g. 32 or 500MiB; default {DEFAULT_MAX_MEMORY / GIB:g}): a run estimated "
        "above it is refused before it starts")


def _output_options(parser: argparse.ArgumentParser, default_out: str, plots: str,
                    quiet: str) -> None:
    """The ``--out``, ``--no-plots`` and ``--quiet`` options of a command writing a folder."""
    parser.add_argument("--out", type=Path, metavar="DIR", help=OUT_HELP.format(default_out))
    parser.add_argument("--no-plots", action="store_true", help=f"do not draw {plots}")
    parser.add_argument("--quiet", action="store_true", help=quiet)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microwork`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="microwork",
        description="Simulate the micro-work economy: who earns what, how long tasks wait, "
        "how much unpaid time goes into watching for work.",
    )
    from sim.foundation.version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    set_help = (
        "override a scenario field by dotted path, value parsed as YAML "
        "(e.g. --set horizon=7d --set platform.allocation.rule=fcfs); repeatable"
    )
    run = commands.add_parser(
        "run",
        help="simulate a scenario, print a summary and write the result folder",
        description="Simulate SCENARIO once, print headline metrics and a per-profile table, "
        "and write tables, summary, manifest and plots to a result folder (atomically: an "
        "error never leaves a half-written folder; an existing run folder that microwork wrote "
        "is replaced, any other non-empty folder is refused).",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    run.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    run.add_argument(
        "--set", dest="overrides", action="append", metavar="PATH=VALUE", help=set_help
    )
    _max_memory_option(run)
    _output_options(run, "results/<scenario name>-seed<N>", "the four PNG plots",
                    "no progress bar and no summary table; print only the result folder")
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser(
        "validate",
        help="check a scenario and describe it in words",
        description="Validate SCENARIO (with any --set overrides) and describe what it "
        "simulates. Exits 0 when valid, 2 with the offending field otherwise.",
    )
    validate.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    validate.add_argument(
        "--set", dest="overrides", action="append", metavar="PATH=VALUE", help=set_help
    )
    _max_memory_option(validate)
    validate.set_defaults(handler=cmd_validate)

    compare = commands.add_parser(
        "compare",
        help="compare scenario variants over paired replications, with confidence intervals",
        description=COMPARE_DESCRIPTION,
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument(
        "source",
        metavar="SCENARIO_OR_SPEC",
        help="scenario YAML file (then give --variant), or a comparison spec: a YAML file with "
        "'scenario' (path relative to the spec), 'variants' and optionally 'baseline', "
        "'replications', 'seed', 'processes', 'target' (see scenarios/policies.yaml)",
    )
    compare.add_argument(
        "--variant",
        dest="variants",
        action="append",
        metavar="NAME:PATH=VALUE[,...]",
        help="add a variant (replacing a spec's variant of the same name); repeatable",
    )
    compare.add_argument(
        "--baseline",
        metavar="NAME",
        help="variant the others are compared with (default: the spec's, else the first)",
    )
    compare.add_argument(
        "--replications",
        type=_at_least(2),
        metavar="N",
        help=f"replications per variant (default: the spec's, else {DEFAULT_REPLICATIONS})",
    )
    compare.add_argument(
        "--processes",
        type=_at_least(1),
        metavar="N",
        help="parallel processes (default: the spec's, else the number of cores)",
    )
    compare.add_argument(
        "--seed",
        type=_seed,
        help=f"seed of the replication seeds (default: the spec's, else {DEFAULT_COMPARE_SEED})",
    )
    compare.add_argument(
        "--set", dest="overrides", action="append", metavar="PATH=VALUE",
        help="override a field of the scenario by dotted path, before the variants are "
        "applied (as with run); repeatable",
    )
    _repair_option(compare)
    _max_memory_option(compare)
    _output_options(compare, "results/<spec or scenario name>-compare", "the PNG plots",
                    "no progress bar and no table; print only the result folder")
    compare.set_defaults(handler=cmd_compare)

    calibrate = commands.add_parser(
        "calibrate",
        help="compare a calibrated scenario with published figures (and fit its parameters)",
        description="Run the scenario's replications and print, per target row of the targets "
        "file that the scenario's 'calibration' section names, the published value, the "
        "simulated mean with its 95%% interval and whether it lies within the tolerance; "
        "write the same as calibration.csv plus calibration.png. With --fit, first fit the "
        "free parameters of the 'fit' stages (see docs/calibration.md).",
    )
    calibrate.add_argument("scenario", help="scenario YAML file with a calibration section")
    calibrate.add_argument(
        "--targets",
        type=Path,
        metavar="FILE",
        help="published targets CSV (default: calibration/targets.csv)",
    )
    calibrate.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE",
                           help=set_help)
    calibrate.add_argument("--replications", type=_at_least(2), metavar="N",
                           help="replications (default: the scenario's calibration section)")
    calibrate.add_argument("--processes", type=_at_least(1), metavar="N",
                           help="parallel processes (default: the number of cores)")
    calibrate.add_argument("--fit", action="store_true",
                           help="fit the free parameters first; writes fitted.yaml")
    calibrate.add_argument("--check", action="store_true",
                           help="exit with status 1 when a fitted target or an input is out "
                           "of its band (for CI)")
    calibrate.add_argument("--out", type=Path, metavar="DIR",
                           help=OUT_HELP.format("results/<scenario name>-calibration"))
    calibrate.add_argument("--quiet", action="store_true", help="no progress and no table")
    _max_memory_option(calibrate)
    calibrate.set_defaults(handler=cmd_calibrate)

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a result folder",
        description="Write one self-contained HTML page (plots embedded, nothing fetched: it "
        "opens without network and can be sent as a single file) of RESULT_DIR, a folder "
        "written by 'microwork run', 'compare', 'calibrate', 'sweep' or 'sensitivity': the "
        "scenario in plain words, the headline table (the comparison with its intervals, the "
        "sweep's or the indices' table), the plots and the manifest. Written atomically (a "
        "temporary file renamed into place); an existing file is replaced only if it is a "
        "report microwork wrote.",
    )
    report.add_argument("result_dir", metavar="RESULT_DIR", type=Path, help="result folder")
    report.add_argument("--out", type=Path, metavar="FILE",
                        help="HTML file to write (default: RESULT_DIR/report.html); an existing "
                        "file is replaced only if it is a report microwork wrote")
    report.set_defaults(handler=cmd_report)
    add_experiment_commands(commands)  # sweep, sensitivity (issue 6)
    return parser


# --------------------------------------------------------------------------- comparison spec


@dataclass
class ComparisonSpec:
    """What ``microwork compare`` runs, as read from a comparison spec or a scenario file;
    fields a file leaves out are None (a plain scenario file has no variants)."""

    name: str
    """Spec file name without extension, or the scenario's name: names the default --out."""
    scenario: Any
    scenario_file: Path | None
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    baseline: str | None = None
    replications: int | None = None
    seed: int | None = None
    processes: int | None = None
    target: dict[str, Any] | None = None


def _whole(data: dict[str, Any], key: str, minimum: int, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(
            f"{where}: {key}: expected a whole number of at least {minimum}, got {value!r}"
        )
    return value


def _spec_variants(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(
            f"{where}: variants: expected a mapping of variant names to "
            f"overrides (e.g. lottery: {{platform.allocation.rule: lottery}}), "
            f"got {value!r}"
        )
    variants = {}
    for name, changes in value.items():
        if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
            raise ScenarioError(
                f"{where}: variants: the name {name!r} must be letters, digits, "
                "'_', '.', '+' or '-' (not starting with '.' or '-')"
            )
        if changes is None:
            changes = {}
        if not isinstance(changes, dict) or not all(isinstance(k, str) for k in changes):
            raise ScenarioError(
                f"{where}: variants.{name}: expected a mapping of dotted "
                f"scenario paths to values ({{}} for the scenario as is), "
                f"got {changes!r}"
            )
        variants[name] = dict(changes)
    return variants


def _spec_target(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    allowed = {"metric", "half_width", "max_replications"}
    ok = isinstance(value, dict) and set(value) <= allowed and isinstance(value.get("metric"), str)
    width = value.get("half_width") if isinstance(value, dict) else None
    ok = ok and isinstance(width, int | float) and not isinstance(width, bool) and width > 0
    if not ok:
        raise ScenarioError(
            f"{where}: target: expected {{metric: NAME, half_width: POSITIVE "
            f"NUMBER, max_replications: N (optional)}}, got {value!r}"
        )
    _whole(value, "max_replications", 2, f"{where}: target")
    return dict(value)


def load_comparison_spec(source: str | Path) -> ComparisonSpec:
    """Read ``source``: a comparison spec (a YAML mapping with a top-level ``variants`` key and
    a ``scenario`` path relative to the spec file, or an inline scenario) or a plain scenario
    file (then without variants). Bad input raises ScenarioError naming the file and field."""
    import sim
    from sim.scenario.yaml_io import read_yaml

    path = Path(source)
    data = read_yaml(path, "scenario file")
    if not (isinstance(data, dict) and "variants" in data):
        scenario = sim.load_scenario(path)
        return ComparisonSpec(name=scenario.name, scenario=scenario, scenario_file=path.resolve())
    where = str(path)
    unknown = sorted(set(data) - set(SPEC_KEYS), key=str)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; a "
            f"comparison spec has {', '.join(SPEC_KEYS)}"
        )
    reference = data.get("scenario")
    scenario_file = None
    if isinstance(reference, str) and reference.strip():
        scenario_file = (path.parent / reference).resolve()
        scenario = sim.load_scenario(path.parent / reference)
    elif isinstance(reference, dict):
        try:
            scenario = sim.load_scenario(reference)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: scenario: {exc}") from None
    else:
        raise ScenarioError(
            f"{where}: scenario: expected the path of a scenario file (relative "
            f"to the spec) or a scenario mapping, got {reference!r}"
        )
    baseline = data.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise ScenarioError(f"{where}: baseline: expected a variant name, got {baseline!r}")
    return ComparisonSpec(
        name=path.stem,
        scenario=scenario,
        scenario_file=scenario_file,
        variants=_spec_variants(data["variants"], where),
        baseline=baseline,
        replications=_whole(data, "replications", 2, where),
        seed=_whole(data, "seed", 0, where),
        processes=_whole(data, "processes", 1, where),
        target=_spec_target(data.get("target"), where),
    )


# --------------------------------------------------------------------------- helpers


def _load(args: argparse.Namespace) -> Any:
    """The scenario of ``args`` with its ``--set`` overrides applied (raises ScenarioError)."""
    import sim

    changes = parse_overrides(args.overrides)  # syntax errors before reading the file
    scenario = sim.load_scenario(args.scenario)
    return sim.override(scenario, changes) if changes else scenario


def default_out(scenario_name: str, seed: int) -> Path:
    """``results/<scenario name>-seed<N>``, the name made safe for a path (and not too long)."""
    return Path("results") / f"{safe_name(scenario_name)}-seed{seed}"


def default_experiment_out(name: str, suffix: str) -> Path:
    """``results/<spec or scenario name>-<suffix>`` (``compare``, ``sweep``, ...), the name
    made safe for a path (and not too long)."""
    return Path("results") / f"{safe_name(name)}-{suffix}"


def _repair_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--repair", action="store_true",
        help="delete the damaged run files found in <out>.partial (a truncated file, say) and "
        "compute those runs again; without it a damaged file is an error naming it")


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    """``microwork run``: simulate, write the result folder atomically, print the summary."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import sim
    from sim.presentation import figures as plots
    from sim.presentation.text import format_summary

    scenario = _load(args)
    shown = args.out if args.out is not None else default_out(scenario.name, args.seed)
    target = shown.expanduser().resolve()  # "--out ." names the current folder, not ""
    check_replaceable(target, "run")  # before computing anything
    try:
        with staged_folder(target, "run") as staging:
            progress = HorizonProgress(f"simulating {scenario.name}", disable=args.quiet,
                                       delay=2.0, notebook=False)
            try:
                result = sim.run(scenario, seed=args.seed, progress=progress,
                                 max_memory=args.max_memory)
            finally:
                progress.close()
            result.write_into(staging)
            if not args.no_plots:
                plots.save_run_plots(
                    result.tasks, result.workers, result.horizon, staging, scenario.currency
                )
    except OSError as exc:
        print(f"error: cannot write results to {str(shown)!r}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.quiet:
        print(shown)
        return EXIT_OK
    files = sorted(p.name for p in target.iterdir())
    print(format_summary(result))
    print(f"\nWrote {shown}{'' if str(shown).endswith('/') else '/'} ({', '.join(files)})")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``microwork validate``: check the scenario, describe it in one paragraph and say how
    large a run of it is (refused, like ``run``, when above the memory limit)."""
    from sim.presentation.text import describe_scenario
    from sim.scenario import size

    scenario = _load(args)
    run_size = size.check(scenario, args.max_memory)
    print(f"{args.scenario} is valid.\n")
    print(describe_scenario(scenario))
    print(f"\nExpected size of a run: {run_size.describe()}.")
    return EXIT_OK


def _comparison_plan(args: argparse.Namespace) -> tuple[ComparisonSpec, dict[str, Any]]:
    """The spec read from ``args.source`` (its scenario changed by ``--set``) and what to run:
    its settings with the command-line options applied (variants, baseline, replications,
    seed, processes)."""
    from sim.scenario.loading import override

    added = [parse_variant(item) for item in args.variants or []]  # syntax before reading
    changes = parse_overrides(args.overrides)
    spec = load_comparison_spec(args.source)
    if changes:
        spec.scenario = override(spec.scenario, changes)
    variants = dict(spec.variants)
    given: set[str] = set()
    for name, changes in added:
        if name in given:
            raise UsageError(f"--variant: the name {name!r} is given twice")
        given.add(name)
        variants[name] = changes
    if not variants:
        raise UsageError(
            f"{args.source} is a scenario file: give at least one --variant {VARIANT_SYNTAX}, "
            "or a comparison spec with 'variants' (like scenarios/policies.yaml)"
        )
    for name, changes in variants.items():  # say which variant a bad override belongs to
        try:
            override(spec.scenario, changes)
        except ScenarioError as exc:
            source = "--variant" if name in given else str(args.source)
            raise ScenarioError(f"variant {name!r} ({source}): {exc}") from None
    if spec.target is not None:
        from sim.analysis.metrics import summary_keys

        known = summary_keys(spec.scenario.profiles)
        if spec.target["metric"] not in known:
            raise ScenarioError(
                f"{args.source}: target.metric: {spec.target['metric']!r} is not a summary "
                f"metric; choose one of {', '.join(known)}"
            )
    baseline = args.baseline or spec.baseline or next(iter(variants))
    if baseline not in variants:
        where = "--baseline" if args.baseline else f"{args.source}: baseline"
        raise UsageError(f"{where} {baseline!r} is not one of the variants ({', '.join(variants)})")
    seed = args.seed if args.seed is not None else spec.seed
    plan = {
        "variants": variants,
        "baseline": baseline,
        "replications": args.replications or spec.replications or DEFAULT_REPLICATIONS,
        "seed": DEFAULT_COMPARE_SEED if seed is None else seed,
        "processes": args.processes or spec.processes or os.cpu_count() or 1,
    }
    return spec, plan


def cmd_compare(args: argparse.Namespace) -> int:
    """``microwork compare``: run the variants with paired replications (resuming from
    ``<out>.partial``), write the result folder atomically, print the comparison table."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from sim.experiments.compare import STATE, compare, write_comparison
    from sim.presentation import figures as plots
    from sim.presentation.text import format_comparison

    spec, plan = _comparison_plan(args)

    def launch(state: Path) -> Any:
        return compare(spec.scenario, plan["variants"], plan["replications"], plan["seed"],
                       plan["processes"], baseline=plan["baseline"], state_dir=state,
                       progress=not args.quiet, target=spec.target, repair=args.repair,
                       max_memory=args.max_memory)

    outcome = _run_experiment(args, "comparison", spec.name, STATE, launch)
    if isinstance(outcome, int):
        return outcome
    comparison, target, shown, wall = outcome
    spec_as_run = {
        "scenario": str(spec.scenario_file) if spec.scenario_file else None,
        **{key: plan[key] for key in ("baseline", "replications", "seed", "variants")},
        **({"target": spec.target} if spec.target else {}),
    }
    manifest = {
        "command": "compare",
        "source": str(Path(args.source).resolve()),
        "spec": spec_as_run,
        "scenario": spec.scenario.to_dict(),
        "seed": plan["seed"],
        "processes": plan["processes"],
        "wall_time": wall,
        **comparison.stats,
    }

    def write(folder: Path) -> None:
        write_comparison(comparison, folder, manifest)
        if not args.no_plots:
            plots.save_comparison_plots(comparison, folder, spec.scenario.currency)

    status = _write_experiment(target, shown, "comparison", STATE, write)
    if status != EXIT_OK:
        return status
    if args.quiet:
        print(shown)
        return EXIT_OK
    scn = spec.scenario
    title = spec.name if spec.name == scn.name else f"{spec.name} (scenario {scn.name!r})"
    print(format_comparison(comparison, scn.currency, list(scn.profiles), title=title))
    print(_finish_message(comparison, shown, target, wall))
    return EXIT_OK


# --------------------------------------------------------------------------- sweeps, sensitivity
# microwork sweep / microwork sensitivity: a self-contained block (issue 6). The experiments
# themselves live in sim.experiments.sweep and sim.experiments.sensitivity; here only arguments,
# output and folders.

EXPERIMENT_EPILOG = """\
executors (--executor):
  local        a pool of --processes local processes (default: one per core)
  inprocess    every run in this process, one after the other (debugging)
  dask         start a local Dask cluster of --processes workers for this experiment
  tcp://HOST:8786
               the Dask cluster behind that scheduler (its workers need microwork installed)

Finished runs are streamed to <out>.partial/ (one Parquet file per run) while the experiment
runs: after an interruption (Ctrl-C, a killed job) the same command computes only the runs
that are missing (--repair first deletes damaged run files, whose runs are then computed
again). At the end the result folder is written atomically and <out>.partial/ is removed.
"""


def _executor_name(text: str) -> str:
    """argparse type of ``--executor``: local, inprocess, dask or a scheduler address."""
    from sim.experiments.executors import EXECUTOR_NAMES

    if text in EXECUTOR_NAMES or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"expected {', '.join(EXECUTOR_NAMES)} or a Dask scheduler address such as "
        f"tcp://host:8786, got {text!r}"
    )


def _add_experiment_options(command: argparse.ArgumentParser, set_help: str) -> None:
    _max_memory_option(command)
    command.add_argument(
        "--executor",
        type=_executor_name,
        default="local",
        metavar="local|inprocess|dask|ADDRESS",
        help="where the runs execute (default: local process pool; see below)",
    )
    command.add_argument(
        "--processes",
        type=_at_least(1),
        metavar="N",
        help="local processes, or workers of a local Dask cluster (default: the spec's, else "
        "the number of cores)",
    )
    command.add_argument("--replications", type=_at_least(1), metavar="N",
                         help="replications per point (default: the spec's)")
    command.add_argument("--seed", type=_seed, help="seed of the replication seeds "
                         "(default: the spec's, else 1)")
    command.add_argument("--set", dest="overrides", action="append", metavar="PATH=VALUE",
                         help=set_help)
    _repair_option(command)
    command.add_argument("--out", type=Path, metavar="DIR",
                         help=OUT_HELP.format("results/<spec name>-<command>"))
    command.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    command.add_argument("--quiet", action="store_true",
                         help="no progress bar and no table; print only the result folder")


def add_experiment_commands(commands: Any) -> None:
    """Add the ``sweep`` and ``sensitivity`` subcommands to the ``microwork`` parser."""
    set_help = "override a field of the spec's scenario by dotted path (as with run); repeatable"
    sweep = commands.add_parser(
        "sweep",
        help="run a full-factorial grid of scenario overrides with replications",
        description="Run every point of the grid of SPEC (a YAML file with 'scenario', "
        "'grid' and optionally 'overrides', 'replications', 'seed', 'metrics', 'processes'; "
        "see scenarios/sweeps/) REPLICATIONS times with paired seeds, print each metric per "
        "point with its 95% interval, and write runs.parquet, points.json, table.csv, "
        "manifest.json and plots (a line plot per metric with interval bands, and a heat map "
        "for two-axis grids) to a result folder.",
        epilog=EXPERIMENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("spec", metavar="SPEC", help="sweep spec YAML file")
    _add_experiment_options(sweep, set_help)
    sweep.set_defaults(handler=cmd_sweep)

    sensitivity = commands.add_parser(
        "sensitivity",
        help="global sensitivity analysis (Sobol' or Morris, with SALib)",
        description="Sample the parameters of SPEC (a YAML file with 'scenario', 'problem', "
        "'outputs' and optionally 'method', 'n', 'replications', 'seed', 'second_order', "
        "'levels', 'overrides', 'processes'; see scenarios/sweeps/) with SALib, run every "
        "sample point, print the indices with their bootstrap intervals and write "
        "indices.csv, runs.parquet, points.json, manifest.json and a plot of the indices.",
        epilog=EXPERIMENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sensitivity.add_argument("spec", metavar="SPEC", help="sensitivity spec YAML file")
    sensitivity.add_argument("--n", type=_at_least(2), metavar="N",
                             help="base sample size (Sobol': a power of 2) or Morris "
                             "trajectories (default: the spec's)")
    _add_experiment_options(sensitivity, set_help)
    sensitivity.set_defaults(handler=cmd_sensitivity)


def _experiment_spec(args: argparse.Namespace, loader: Any) -> Any:
    """The spec of ``args.spec`` read by ``loader``, with ``--set`` applied to its scenario."""
    import sim

    changes = parse_overrides(args.overrides)  # syntax errors before reading the file
    spec = loader(args.spec)
    if changes:
        spec.scenario = sim.override(spec.scenario, changes)
    return spec


OUT_SUFFIX = {"comparison": "compare", "sweep": "sweep", "sensitivity": "sensitivity"}
"""Suffix of the default result folder of each experiment command, by kind of folder."""


def _run_experiment(args: argparse.Namespace, kind: str, name: str, layout: StateLayout,
                    launch: Any) -> tuple[Any, Path, Path, float] | int:
    """Check the result folder of a ``kind`` experiment, then run ``launch(state_folder)``
    with the finished runs streamed to ``<out>.partial`` (its store checks that folder, laid
    out as ``layout``); return (result, target, shown, wall time), or the exit status after an
    interruption or a write error."""
    shown = args.out if args.out is not None else default_experiment_out(name, OUT_SUFFIX[kind])
    target = shown.expanduser().resolve()  # "--out ." names the current folder, not ""
    check_replaceable(target, kind)  # before computing anything
    state = target.with_name(target.name + PARTIAL_SUFFIX)
    shown_state = Path(f"{shown}{PARTIAL_SUFFIX}") if shown.name else state
    existed = state.exists()
    before = layout.count(state) if layout.check(state) is not None else 0  # or StoreError
    if before and not args.quiet:
        print(f"resuming from {shown_state}: {before} finished runs found", file=sys.stderr)
    start = time.perf_counter()
    try:
        result = launch(state)
    except BaseException as exc:
        done = layout.count(state)
        if not existed and not done:  # nothing worth keeping: leave no trace
            shutil.rmtree(state, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            kept = f"{done} finished runs are kept in {shown_state}; " if done else ""
            print(f"interrupted: {kept}run the same command again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        if isinstance(exc, OSError):
            print(f"error: cannot write the {kind} state to {str(shown_state)!r}: {exc}",
                  file=sys.stderr)
            return EXIT_FAILURE
        raise
    return result, target, shown, time.perf_counter() - start


def _write_experiment(target: Path, shown: Path, kind: str, layout: StateLayout,
                      write: Callable[[Path], None]) -> int:
    """Write the ``kind`` result folder atomically with ``write(folder)`` and remove the
    ``.partial`` state folder (laid out as ``layout``; kept, with a note, if it now holds
    something else)."""
    try:
        with staged_folder(target, kind) as staging:
            write(staging)
    except OSError as exc:
        print(f"error: cannot write results to {str(shown)!r}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    state = target.with_name(target.name + PARTIAL_SUFFIX)
    try:
        layout.remove(state)
    except (StoreError, OSError) as exc:
        print(f"note: the state folder was kept: {exc}", file=sys.stderr)
    return EXIT_OK


def _finish_message(result: Any, shown: Path, target: Path, wall: float) -> str:
    stats = result.stats
    resumed = stats.get("runs_resumed", 0)
    files = sorted(p.name for p in target.iterdir())
    return (
        f"\n{stats.get('runs_computed', 0)} runs computed in {wall:.1f} s on "
        f"{stats.get('executor', '?')}"
        + (f", {resumed} resumed" if resumed else "")
        + f".\nWrote {shown}{'' if str(shown).endswith('/') else '/'} ({', '.join(files)})"
    )


def format_sweep(result: Any, metrics: Sequence[str], currency: str = "EUR") -> str:
    """Per metric, a table of the grid's points: swept values, mean and interval."""
    from sim.presentation.text import format_metric, metric_label
    from sim.presentation.text import table as text_table

    reps = int(result.runs["replication"].nunique())
    blocks = []
    table = result.table(metrics)
    params = result.parameters
    pct = f"{100 * result.level:g}%"
    for metric in metrics:
        rows = table[table["metric"] == metric]
        body = [
            [*(_cell(row[p]) for p in params), format_metric(metric, row["mean"]),
             f"{format_metric(metric, row['ci_low'])} to {format_metric(metric, row['ci_high'])}"]
            for _, row in rows.iterrows()
        ]
        title = f"{metric_label(metric, currency)}: mean over {reps} replications"
        blocks.append(title + "\n" + text_table([*params, "mean", f"{pct} interval"], body,
                                                indent="  "))
    return "\n\n".join(blocks)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_sensitivity(result: Any, currency: str = "EUR") -> str:
    """Per output, a table of the parameters' indices with their bootstrap intervals."""
    from sim.presentation.text import metric_label
    from sim.presentation.text import table as text_table

    indices = result.indices
    shown = ["S1", "ST"] if result.method == "sobol" else ["mu_star", "sigma"]
    blocks = []
    pct = f"{100 * result.level:g}%"
    for output in result.outputs:
        rows = indices[indices["output"] == output].set_index(["parameter", "index"])
        body = []
        for name in result.names:
            cells = [name]
            for index in shown:
                row = rows.loc[(name, index)]
                cells.append(f"{row['value']:.3g}")
                has_ci = row["conf"] == row["conf"]
                cells.append(f"{row['ci_low']:.3g} to {row['ci_high']:.3g}" if has_ci else "")
            body.append(cells)
        header = ["parameter"]
        for index in shown:
            header += [index, f"{pct} interval" if index != "sigma" else ""]
        blocks.append(metric_label(output, currency) + "\n"
                      + text_table(header, body, indent="  "))
    what = "Sobol' indices (S1 first order, ST total)" if result.method == "sobol" else \
        "Morris screening (mu* mean absolute elementary effect, sigma its spread)"
    return what + f", {len(result.x)} sample points\n\n" + "\n\n".join(blocks)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``microwork sweep``: run the grid (resuming from ``<out>.partial``), write the result
    folder atomically, print a table per metric."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from sim.experiments.sweep import load_sweep_spec, sweep
    from sim.results.dataset import STATE

    spec = _experiment_spec(args, load_sweep_spec)
    replications = args.replications or spec.replications
    seed = spec.seed if args.seed is None else args.seed

    def launch(state: Path) -> Any:
        return sweep(spec.scenario, spec.grid, replications, seed, executor=args.executor,
                     processes=args.processes or spec.processes, store=state,
                     progress=not args.quiet, repair=args.repair, max_memory=args.max_memory)

    outcome = _run_experiment(args, "sweep", spec.name, STATE, launch)
    if isinstance(outcome, int):
        return outcome
    result, target, shown, wall = outcome
    currency = spec.scenario.currency

    manifest = {"command": "sweep", "source": str(Path(args.spec).resolve()),
                "metrics": spec.metrics, "cli_wall_time": wall}

    def write(folder: Path) -> None:
        from sim.presentation.sweep_figures import save_sweep_plots

        result.write_into(folder, manifest)
        if not args.no_plots:
            save_sweep_plots(result, folder, spec.metrics, currency)

    status = _write_experiment(target, shown, "sweep", STATE, write)
    if status != EXIT_OK:
        return status
    if args.quiet:
        print(shown)
        return EXIT_OK
    print(format_sweep(result, spec.metrics, currency))
    print(_finish_message(result, shown, target, wall))
    return EXIT_OK


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """``microwork sensitivity``: sample, run (resuming from ``<out>.partial``), analyse,
    write the result folder atomically, print the indices."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from sim.experiments.sensitivity import load_sensitivity_spec, sensitivity
    from sim.results.dataset import STATE

    spec = _experiment_spec(args, load_sensitivity_spec)

    def launch(state: Path) -> Any:
        return sensitivity(
            spec.scenario, spec.problem, spec.method, args.n or spec.n, spec.outputs,
            replications=args.replications or spec.replications,
            seed=spec.seed if args.seed is None else args.seed,
            second_order=spec.second_order, levels=spec.levels, executor=args.executor,
            processes=args.processes or spec.processes, store=state, progress=not args.quiet,
            repair=args.repair, max_memory=args.max_memory)

    outcome = _run_experiment(args, "sensitivity", spec.name, STATE, launch)
    if isinstance(outcome, int):
        return outcome
    result, target, shown, wall = outcome
    currency = spec.scenario.currency

    manifest = {"command": "sensitivity", "source": str(Path(args.spec).resolve()),
                "cli_wall_time": wall}

    def write(folder: Path) -> None:
        from sim.presentation.sweep_figures import save_sensitivity_plots

        result.write_into(folder, manifest)
        if not args.no_plots:
            save_sensitivity_plots(result, folder, currency)

    status = _write_experiment(target, shown, "sensitivity", STATE, write)
    if status != EXIT_OK:
        return status
    if args.quiet:
        print(shown)
        return EXIT_OK
    print(format_sensitivity(result, currency))
    print(_finish_message(result, shown, target, wall))
    return EXIT_OK


# --------------------------------------------------------------------------- entry point


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``microwork calibrate``: (fit, then) report simulated vs published targets."""
    import matplotlib

    matplotlib.use("Agg")
    from sim.experiments import calibration
    from sim.presentation import figures as plots
    from sim.presentation.text import format_calibration

    scenario = _load(args)
    if scenario.calibration is None:
        raise UsageError(f"{args.scenario}: the scenario has no 'calibration' section")
    if args.targets is not None and not args.targets.is_file():
        raise UsageError(f"--targets {str(args.targets)!r}: no such file")
    targets = calibration.load_targets(args.targets)
    path = args.targets or calibration.PACKAGED_TARGETS
    calibration.check_targets(scenario, targets, str(path))
    shown = args.out or default_experiment_out(scenario.name, "calibration")
    target = shown.expanduser().resolve()
    check_replaceable(target, "calibration")  # before computing anything
    fitted: dict[str, float] = {}
    if args.fit:
        def log(message: str) -> None:
            if not args.quiet:
                print(message, file=sys.stderr)

        scenario, fitted = calibration.fit(scenario, targets, processes=args.processes, log=log,
                                           max_memory=args.max_memory)
    report = calibration.calibrate(scenario, targets, replications=args.replications,
                                   processes=args.processes, progress=not args.quiet,
                                   max_memory=args.max_memory)
    with staged_folder(target, "calibration") as staging:
        report.table.to_csv(staging / "calibration.csv", index=False)
        plots.calibration(report).savefig(staging / "calibration.png", dpi=110)
        if args.fit:
            (staging / "fitted.yaml").write_text(yaml.safe_dump(scenario.to_dict(),
                                                                 sort_keys=False))
        manifest = {"scenario": scenario.to_dict(), "targets_file": str(path),
                    "fitted": fitted, "ok": report.ok}
        write_manifest(staging, "calibration", manifest)
    if not args.quiet:
        if fitted:
            print("Fitted: " + ", ".join(f"{k} = {v:.6g}" for k, v in fitted.items()))
        print(format_calibration(report))
        print(f"\nWrote {shown}")
    return EXIT_FAILURE if args.check and not report.ok else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """``microwork report``: write the self-contained HTML report of a result folder."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from sim.presentation.html import REPORT_NAME, folder_kind, write_report

    folder_kind(args.result_dir)  # StoreError naming what is wrong with the folder
    out = args.out if args.out is not None else args.result_dir / REPORT_NAME
    if out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a folder; give the HTML file to write")
    try:
        write_report(args.result_dir, out)
    except OSError as exc:
        print(f"error: cannot write the report to {str(out)!r}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Wrote {out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``microwork`` command with ``argv`` (default: ``sys.argv[1:]``) and return its
    exit status: 0 success, 1 results could not be written, 2 bad input, 130 interrupted."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.handler(args)
    except MicroworkError as exc:  # one "error:" line per problem
        for line in str(exc).splitlines() or [""]:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


