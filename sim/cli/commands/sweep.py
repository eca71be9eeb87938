"""``microwork sweep``: run a spec's grid (resumable from ``<out>.partial``), write the sweep
folder, print a table per metric."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.commands import files_only, spec_of
from sim.cli.output import Output, default_experiment_out
from sim.experiments.sweep import SweepResult, load_sweep_spec, sweep
from sim.presentation.figures import save_sweep_plots
from sim.presentation.text import format_sweep


def main(args: argparse.Namespace) -> int:
    """Run the grid (resuming from ``<out>.partial``), write the result folder atomically,
    print a table per metric."""
    files_only()
    spec = spec_of(args, args.spec, load_sweep_spec)
    out = Output.choose(args.out, default_experiment_out(spec.name, "sweep"), "sweep")
    currency = spec.scenario.currency

    def launch(state: Path) -> SweepResult:
        return sweep(spec.scenario, spec.grid, args.replications or spec.replications,
                     spec.seed if args.seed is None else args.seed, executor=args.executor,
                     processes=args.processes or spec.processes, store=state,
                     progress=not args.quiet, repair=args.repair, max_memory=args.max_memory)

    def write(result: SweepResult, folder: Path, wall: float) -> None:
        result.write_into(folder, {"command": "sweep", "source": str(Path(args.spec).resolve()),
                                   "metrics": spec.metrics, "cli_wall_time": wall})
        if not args.no_plots:
            save_sweep_plots(result, folder, spec.metrics, currency)

    return out.experiment(launch, write, lambda result: format_sweep(
        result, spec.metrics, currency), args.quiet)
