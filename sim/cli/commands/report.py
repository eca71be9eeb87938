"""``microwork report``: write the self-contained HTML report of a result folder."""

from __future__ import annotations

import argparse
import sys

from sim.cli import EXIT_FAILURE, EXIT_OK
from sim.cli.commands import files_only
from sim.foundation.errors import UsageError
from sim.presentation.folders import folder_kind
from sim.presentation.html import REPORT_NAME, write_report


def main(args: argparse.Namespace) -> int:
    """Check the folder, then write the report (an existing file only if microwork wrote it)."""
    files_only()
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
