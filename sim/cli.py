"""The ``microwork`` command: run a scenario from the shell, or check and describe it.

``microwork run SCENARIO`` simulates it, prints a summary table and writes the result folder
(tables, summary, manifest, plots) atomically; ``microwork validate SCENARIO`` checks it and
says in words what it simulates. Bad input prints ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
RESULT_MARKER = "manifest.json"
"""A folder holding this file is a previous result, which ``run`` may replace."""


class UsageError(Exception):
    """Bad command-line input that is not a scenario field (``--set`` syntax, ``--out``)."""


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


def parse_overrides(items: Sequence[str] | None) -> dict[str, Any]:
    """Turn ``--set path=value`` arguments into an override dict; values are parsed as YAML, so
    ``7``, ``0.5``, ``null``, ``[1, 2]`` and ``2h`` mean what they would in a scenario file."""
    changes: dict[str, Any] = {}
    for item in items or []:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise UsageError(
                f"--set {item!r}: expected PATH=VALUE with a dotted scenario path, "
                "e.g. --set platform.allocation.rule=fcfs or --set horizon=7d"
            )
        try:
            changes[path] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "cannot parse"
            raise UsageError(f"--set {item!r}: the value is not valid YAML ({problem})") from None
    return changes


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microwork`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="microwork",
        description="Simulate the micro-work economy: who earns what, how long tasks wait, "
        "how much unpaid time goes into watching for work.",
    )
    from sim.results import __version__

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
        "error never leaves a half-written folder; an existing result folder is replaced).",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    run.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    run.add_argument(
        "--set", dest="overrides", action="append", metavar="PATH=VALUE", help=set_help
    )
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="result folder (default: results/<scenario name>-seed<N>)",
    )
    run.add_argument("--no-plots", action="store_true", help="do not draw the four PNG plots")
    run.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no summary table; print only the result folder",
    )
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
    validate.set_defaults(handler=cmd_validate)
    return parser


# --------------------------------------------------------------------------- helpers


def _load(args: argparse.Namespace) -> Any:
    """The scenario of ``args`` with its ``--set`` overrides applied (raises ScenarioError)."""
    import sim

    changes = parse_overrides(args.overrides)  # syntax errors before reading the file
    scenario = sim.load_scenario(args.scenario)
    return sim.override(scenario, changes) if changes else scenario


def default_out(scenario_name: str, seed: int) -> Path:
    """``results/<scenario name>-seed<N>``, the name reduced to characters safe in a path."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario_name).strip("._") or "scenario"
    return Path("results") / f"{safe}-seed{seed}"


def _check_target(target: Path) -> None:
    """Refuse to replace anything but a previous result folder (or an empty folder), so a
    mistyped ``--out`` can never wipe out a directory of other files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"--out {str(target)!r} exists and is not a folder")
    if any(target.iterdir()) and not (target / RESULT_MARKER).is_file():
        raise UsageError(
            f"--out {str(target)!r} is a folder that does not hold a microwork result "
            f"(no {RESULT_MARKER}); refusing to replace it, choose another --out"
        )


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``target`` to write into, then move it into place;
    on any error (or Ctrl-C) remove it, so ``target`` is never left half-written."""
    from sim.results import replace_dir

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private (0700); a result is not
        yield staging
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class _Progress:
    """A tqdm bar fed by ``sim.run``'s progress callback (fraction of the horizon simulated);
    it only appears when the run lasts more than ``delay`` seconds."""

    def __init__(self, label: str, disable: bool, delay: float = 2.0) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=100,
            desc=label,
            unit="%",
            delay=delay,
            disable=disable,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
            file=sys.stderr,
        )

    def __call__(self, fraction: float) -> None:
        done = min(100, round(100 * fraction))
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    """``microwork run``: simulate, write the result folder atomically, print the summary."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import sim
    from sim import plots
    from sim.report import format_summary

    scenario = _load(args)
    shown = args.out if args.out is not None else default_out(scenario.name, args.seed)
    target = shown.expanduser().resolve()  # "--out ." names the current folder, not ""
    _check_target(target)
    try:
        with staged_folder(target) as staging:
            progress = _Progress(f"simulating {scenario.name}", disable=args.quiet)
            try:
                result = sim.run(scenario, seed=args.seed, progress=progress)
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
    """``microwork validate``: check the scenario and describe it in one paragraph."""
    from sim.report import describe_scenario

    scenario = _load(args)
    print(f"{args.scenario} is valid.\n")
    print(describe_scenario(scenario))
    return EXIT_OK


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``microwork`` command with ``argv`` (default: ``sys.argv[1:]``) and return its
    exit status: 0 success, 1 results could not be written, 2 bad input, 130 interrupted."""
    from sim.errors import ScenarioError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.handler(args)
    except (ScenarioError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
