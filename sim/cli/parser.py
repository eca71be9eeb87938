"""The argument parser of the ``microwork`` command, and the parsing of the values of ``--set``
and ``--variant``.

Every option that several commands share (``--set``, ``--seed``, ``--replications``,
``--processes``, ``--max-memory``, ``--repair``, ``--executor``, ``--out``, ``--no-plots``,
``--quiet``) is added by one helper below, so it reads and behaves the same everywhere. Each
sub-command's name is the module of :mod:`sim.cli.commands` that runs it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.experiments.executors import EXECUTOR_NAMES
from sim.experiments.specs import VARIANT_NAME, VARIANT_NAME_RULE
from sim.foundation.errors import UsageError, shown
from sim.foundation.version import __version__
from sim.scenario.size import DEFAULT_MAX_MEMORY, GIB
from sim.scenario.yaml_io import parse_yaml

DEFAULT_REPLICATIONS = 20
"""Replications of a comparison when neither its spec nor ``--replications`` gives them."""
DEFAULT_COMPARE_SEED = 1
"""Seed of a comparison when neither its spec nor ``--seed`` gives it."""

RUN_DESCRIPTION = """\
Simulate SCENARIO once, print headline metrics and a per-profile table, and write tables,
summary, manifest and plots to a result folder (atomically: an error never leaves a
half-written folder; an existing run folder that microwork wrote is replaced, any other
non-empty folder is refused).
"""
VALIDATE_DESCRIPTION = """\
Validate SCENARIO (with any --set overrides) and describe what it simulates. Exits 0 when
valid, 2 with the offending field otherwise.
"""
CALIBRATE_DESCRIPTION = """\
Run the scenario's replications and print, per target row of the targets file that the
scenario's 'calibration' section names, the published value, the simulated mean with its 95%
interval and whether it lies within the tolerance; write the same as calibration.csv plus
calibration.png. With --fit, first fit the free parameters of the 'fit' stages (see
docs/calibration.md).
"""
REPORT_DESCRIPTION = """\
Write one self-contained HTML page (plots embedded, nothing fetched: it opens without network
and can be sent as a single file) of RESULT_DIR, a folder written by 'microwork run',
'compare', 'calibrate', 'sweep' or 'sensitivity': the scenario in plain words, the headline
table (the comparison with its intervals, the sweep's or the indices' table), the plots and
the manifest. Written atomically (a temporary file renamed into place); an existing file is
replaced only if it is a report microwork wrote.
"""
SWEEP_DESCRIPTION = """\
Run every point of the grid of SPEC (a YAML file with 'scenario', 'grid' and optionally
'overrides', 'replications', 'seed', 'metrics', 'processes'; see scenarios/sweeps/)
REPLICATIONS times with paired seeds, print each metric per point with its 95% interval, and
write runs.parquet, points.json, table.csv, manifest.json and plots (a line plot per metric
with interval bands, and a heat map for two-axis grids) to a result folder.
"""
SENSITIVITY_DESCRIPTION = """\
Sample the parameters of SPEC (a YAML file with 'scenario', 'problem', 'outputs' and
optionally 'method', 'n', 'replications', 'seed', 'second_order', 'levels', 'overrides',
'processes'; see scenarios/sweeps/) with SALib, run every sample point, print the indices
with their bootstrap intervals and write indices.csv, runs.parquet, points.json,
manifest.json and a plot of the indices.
"""
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
SET_HELP = ("override a scenario field by dotted path, value parsed as YAML "
            "(e.g. --set horizon=7d --set platform.allocation.rule=fcfs); repeatable")
OUT_HELP = ("result folder (default: {}); an existing folder is replaced only if it is "
            "empty or a result of the same kind that microwork wrote")
QUIET_HELP = "no progress bar and no {}; print only the result folder"


# --------------------------------------------------------------------------- --set, --variant


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
        raise UsageError(f"--variant {item!r}: the name {name!r} must be {VARIANT_NAME_RULE}; "
                         f"expected {VARIANT_SYNTAX}")
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


# --------------------------------------------------------------------------- option types


def _at_least(minimum: int) -> Callable[[str], int]:
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


def _executor_name(text: str) -> str:
    """argparse type of ``--executor``: local, inprocess, dask or a scheduler address."""
    if text in EXECUTOR_NAMES or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"expected {', '.join(EXECUTOR_NAMES)} or a Dask scheduler address such as "
        f"tcp://host:8786, got {text!r}"
    )


# --------------------------------------------------------------------------- shared options


def _set_option(parser: argparse.ArgumentParser, help: str = SET_HELP,
                metavar: str = "PATH=VALUE") -> None:
    parser.add_argument("--set", dest="overrides", action="append", metavar=metavar, help=help)


def _seed_option(parser: argparse.ArgumentParser, help: str, default: int | None = None
                 ) -> None:
    """``--seed``: a non-negative integer (what ``SeedSequence`` accepts)."""
    parser.add_argument("--seed", type=_at_least(0), default=default, help=help)


def _count_option(parser: argparse.ArgumentParser, flag: str, minimum: int, help: str) -> None:
    """``flag N``: a whole number of at least ``minimum`` (``--replications``, ...)."""
    parser.add_argument(flag, type=_at_least(minimum), metavar="N", help=help)


def _max_memory_option(parser: argparse.ArgumentParser) -> None:
    """``--max-memory``: raise (or lower) the limit on a run's estimated memory."""
    parser.add_argument(
        "--max-memory", metavar="SIZE", help="largest estimated memory of a run, in GiB or with "
        f"a unit (e.g. 32 or 500MiB; default {DEFAULT_MAX_MEMORY / GIB:g}): a run estimated "
        "above it is refused before it starts")


def _repair_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repair", action="store_true",
        help="delete the damaged run files found in <out>.partial (a truncated file, say) and "
        "compute those runs again; without it a damaged file is an error naming it")


def _output_options(parser: argparse.ArgumentParser, default_out: str, plots: str | None,
                    quiet: str) -> None:
    """``--out``, ``--no-plots`` (unless ``plots`` is None) and ``--quiet`` of a command
    writing a result folder."""
    parser.add_argument("--out", type=Path, metavar="DIR", help=OUT_HELP.format(default_out))
    if plots is not None:
        parser.add_argument("--no-plots", action="store_true", help=f"do not draw {plots}")
    parser.add_argument("--quiet", action="store_true", help=quiet)


def _resumable_output(parser: argparse.ArgumentParser, default_out: str, memory: bool = False
                      ) -> None:
    """``--repair`` (then ``--max-memory`` if ``memory``) and the output options of a command
    whose runs resume from ``<out>.partial`` (compare, sweep, sensitivity)."""
    _repair_option(parser)
    if memory:
        _max_memory_option(parser)
    _output_options(parser, default_out, "the PNG plots", QUIET_HELP.format("table"))


def _experiment_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``sweep`` and ``sensitivity``."""
    _max_memory_option(parser)
    parser.add_argument(
        "--executor", type=_executor_name, default="local",
        metavar="local|inprocess|dask|ADDRESS",
        help="where the runs execute (default: local process pool; see below)")
    _count_option(parser, "--processes", 1, "local processes, or workers of a local Dask "
                  "cluster (default: the spec's, else the number of cores)")
    _count_option(parser, "--replications", 1, "replications per point (default: the spec's)")
    _seed_option(parser, "seed of the replication seeds (default: the spec's, else 1)")
    _set_option(parser, "override a field of the spec's scenario by dotted path (as with run); "
                "repeatable")
    _resumable_output(parser, "results/<spec name>-<command>")


# --------------------------------------------------------------------------- commands


def _command(commands: Any, name: str, summary: str, description: str,
             epilog: str | None = None) -> argparse.ArgumentParser:
    """The sub-parser of command ``name`` (an epilog is printed as written)."""
    raw = {"epilog": epilog, "formatter_class": argparse.RawDescriptionHelpFormatter}
    return commands.add_parser(name, help=summary, description=description,
                               **(raw if epilog else {}))


def _add_run(commands: Any) -> None:
    run = _command(commands, "run",
                   "simulate a scenario, print a summary and write the result folder",
                   RUN_DESCRIPTION)
    run.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    _seed_option(run, "random seed (default: 0)", default=0)
    _set_option(run)
    _max_memory_option(run)
    _output_options(run, "results/<scenario name>-seed<N>", "the four PNG plots",
                    QUIET_HELP.format("summary table"))

    validate = _command(commands, "validate", "check a scenario and describe it in words",
                        VALIDATE_DESCRIPTION)
    validate.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    _set_option(validate)
    _max_memory_option(validate)


def _add_compare(commands: Any) -> None:
    compare = _command(commands, "compare",
                       "compare scenario variants over paired replications, with confidence "
                       "intervals", COMPARE_DESCRIPTION, COMPARE_EPILOG)
    compare.add_argument(
        "source", metavar="SCENARIO_OR_SPEC",
        help="scenario YAML file (then give --variant), or a comparison spec: a YAML file with "
        "'scenario' (path relative to the spec), 'variants' and optionally 'overrides', "
        "'baseline', 'replications', 'seed', 'processes', 'target', 'supply' (see "
        "scenarios/policies.yaml)",
    )
    compare.add_argument(
        "--variant", dest="variants", action="append", metavar="NAME:PATH=VALUE[,...]",
        help="add a variant (replacing a spec's variant of the same name); repeatable")
    compare.add_argument(
        "--baseline", metavar="NAME",
        help="variant the others are compared with (default: the spec's, else the first)")
    _count_option(compare, "--replications", 2, "replications per variant (default: the "
                  f"spec's, else {DEFAULT_REPLICATIONS})")
    _count_option(compare, "--processes", 1, "parallel processes (default: the spec's, else "
                  "the number of cores)")
    _seed_option(compare, "seed of the replication seeds (default: the spec's, else "
                 f"{DEFAULT_COMPARE_SEED})")
    _set_option(compare, "override a field of the scenario by dotted path, before the "
                "variants are applied (as with run); repeatable")
    compare.add_argument(
        "--supply", choices=("fixed", "adaptive", "both"),
        help="labour supply of every variant: fixed (the short run), adaptive (the long run: "
        "workers give up, leave, join, see docs/labour-supply.md) or both, side by side, each "
        "compared with the baseline of the same supply (default: the spec's, else as the "
        "scenario says)")
    _resumable_output(compare, "results/<spec or scenario name>-compare", memory=True)


def _add_calibrate(commands: Any) -> None:
    calibrate = _command(commands, "calibrate",
                         "compare a calibrated scenario with published figures (and fit its "
                         "parameters)", CALIBRATE_DESCRIPTION)
    calibrate.add_argument("scenario", help="scenario YAML file with a calibration section")
    calibrate.add_argument("--targets", type=Path, metavar="FILE",
                           help="published targets CSV (default: calibration/targets.csv)")
    _set_option(calibrate, metavar="KEY=VALUE")
    _count_option(calibrate, "--replications", 2, "replications (default: the scenario's "
                  "calibration section)")
    _count_option(calibrate, "--processes", 1, "parallel processes (default: the number of "
                  "cores)")
    calibrate.add_argument("--fit", action="store_true",
                           help="fit the free parameters first; writes fitted.yaml")
    calibrate.add_argument("--check", action="store_true",
                           help="exit with status 1 when a fitted target or an input is out "
                           "of its band (for CI)")
    _output_options(calibrate, "results/<scenario name>-calibration", None,
                    "no progress and no table")
    _max_memory_option(calibrate)


def _add_report(commands: Any) -> None:
    report = _command(commands, "report",
                      "write a self-contained HTML report of a result folder",
                      REPORT_DESCRIPTION)
    report.add_argument("result_dir", metavar="RESULT_DIR", type=Path, help="result folder")
    report.add_argument("--out", type=Path, metavar="FILE",
                        help="HTML file to write (default: RESULT_DIR/report.html); an existing "
                        "file is replaced only if it is a report microwork wrote")


def _add_experiments(commands: Any) -> None:
    sweep = _command(commands, "sweep",
                     "run a full-factorial grid of scenario overrides with replications",
                     SWEEP_DESCRIPTION, EXPERIMENT_EPILOG)
    sweep.add_argument("spec", metavar="SPEC", help="sweep spec YAML file")
    _experiment_options(sweep)

    sensitivity = _command(commands, "sensitivity",
                           "global sensitivity analysis (Sobol' or Morris, with SALib)",
                           SENSITIVITY_DESCRIPTION, EXPERIMENT_EPILOG)
    sensitivity.add_argument("spec", metavar="SPEC", help="sensitivity spec YAML file")
    _count_option(sensitivity, "--n", 2, "base sample size (Sobol': a power of 2) or Morris "
                  "trajectories (default: the spec's)")
    _experiment_options(sensitivity)


EXPLORE_DESCRIPTION = """\
Start the policy explorer, a local web page: pick a scenario, set a baseline and an
alternative (allocation rule and its parameters, caps, minimum pay, commission, payout
threshold, expiry, adaptive labour supply), press Run, and see the paired comparison with
95% intervals, the figures and plain-words sentences; download the result folder (zip) or
the HTML report. Prints the page's address and serves it until Ctrl-C. See docs/explorer.md.
"""


def _add_explore(commands: Any) -> None:
    explore = _command(commands, "explore",
                       "interactive policy explorer in the browser (a local web app)",
                       EXPLORE_DESCRIPTION)
    explore.add_argument("scenario", metavar="SCENARIO", nargs="?",
                         help="scenario file or shipped scenario name (default: baseline)")
    explore.add_argument("--port", type=int, default=5006, metavar="N",
                         help="port to listen on (default: 5006)")
    explore.add_argument("--host", default="127.0.0.1",
                         help="address to bind (default: 127.0.0.1, this machine only)")
    _count_option(explore, "--processes", 1, "parallel processes of each comparison "
                  "(default: the number of cores)")
    explore.add_argument("--show", action="store_true", help="open the page in a browser")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microwork`` command; ``command`` names the sub-command
    (its module in :mod:`sim.cli.commands`)."""
    parser = argparse.ArgumentParser(
        prog="microwork",
        description="Simulate the micro-work economy: who earns what, how long tasks wait, "
        "how much unpaid time goes into watching for work.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_compare, _add_calibrate, _add_report, _add_experiments,
                _add_explore):
        add(commands)
    return parser
