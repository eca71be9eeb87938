"""``microwork explore``: serve the policy explorer (:mod:`sim.presentation.explorer`) on a
local address and print it."""

from __future__ import annotations

import argparse

from sim.cli import EXIT_OK
from sim.cli.commands import files_only
from sim.foundation.errors import UsageError


def main(args: argparse.Namespace) -> int:
    """Check the scenario, start the server, print its address, serve until interrupted."""
    files_only()
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: {args.port} is not a port number (0 to 65535)")
    from sim.presentation.explorer.app import serve  # Panel and Bokeh: only for this command

    def started(url: str) -> None:
        print(f"microwork policy explorer: {url}  (Ctrl-C to stop)", flush=True)

    serve(args.scenario, port=args.port, host=args.host, processes=args.processes,
          show=args.show, started=started)
    return EXIT_OK
