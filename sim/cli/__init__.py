"""The ``microwork`` command: run a scenario from the shell, check and describe it, compare
variants of it, calibrate it, sweep it, analyse its sensitivity, report on a result folder.

:func:`main` parses the arguments (:mod:`sim.cli.parser`) and runs the sub-command's module in
:mod:`sim.cli.commands` (imported when used, so that the command starts fast); result folders
and the ``<out>.partial`` state of experiments are written by :mod:`sim.cli.output`. Bad input
(any :class:`~sim.foundation.errors.MicroworkError`) prints one ``error: ...`` line per problem
and exits with status 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from sim.cli.parser import build_parser
from sim.foundation.errors import MicroworkError

EXIT_OK = 0
EXIT_FAILURE = 1
"""The results could not be written (or ``calibrate --check`` found a target out of band)."""
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``microwork`` command with ``argv`` (default: ``sys.argv[1:]``) and return its
    exit status: 0 success, 1 results could not be written, 2 bad input, 130 interrupted."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return importlib.import_module(f"sim.cli.commands.{args.command}").main(args)
    except MicroworkError as exc:  # one "error:" line per problem
        for line in str(exc).splitlines() or [""]:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
