"""``microwork run``: simulate a scenario, write its result folder, print its summary."""

from __future__ import annotations

import argparse
from pathlib import Path

import sim
from sim.cli import EXIT_OK
from sim.cli.commands import files_only, scenario_of
from sim.cli.output import Output, default_out
from sim.foundation.progress import HorizonProgress
from sim.presentation import figures
from sim.presentation.text import format_summary
from sim.results.run_result import RunResult


def main(args: argparse.Namespace) -> int:
    """Simulate inside the staging folder (an error leaves nothing behind), write the result
    folder atomically, print the summary."""
    files_only()
    scenario = scenario_of(args)
    out = Output.choose(args.out, default_out(scenario.name, args.seed), "run")
    results: list[RunResult] = []

    def write(folder: Path) -> None:
        progress = HorizonProgress(f"simulating {scenario.name}", disable=args.quiet,
                                   delay=2.0, notebook=False)
        try:
            result = sim.run(scenario, seed=args.seed, progress=progress,
                             max_memory=args.max_memory)
        finally:
            progress.close()
        result.write_into(folder)
        if not args.no_plots:
            figures.save_run_plots(result.tasks, result.workers, result.horizon, folder,
                                   scenario.currency, result.registrations)
        results.append(result)

    status = out.write(write)
    if status != EXIT_OK:
        return status
    return out.done(args.quiet, lambda: f"{format_summary(results[0])}\n\n{out.wrote()}")
