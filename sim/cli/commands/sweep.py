"""``microwork sweep``: run a spec's grid (resumable from ``<out>.partial``), write the sweep
folder, print a table per metric."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.cli.commands import files_only, spec_of
from sim.cli.output import Output, default_experiment_out
from sim.experiments.sweep import SweepResult, load_sweep_spec, sweep
from sim.presentation.sweep_figures import save_sweep_plots
from sim.presentation.text import format_metric, metric_label
from sim.presentation.text import table as text_table


def format_sweep(result: Any, metrics: Sequence[str], currency: str = "EUR") -> str:
    """Per metric, a table of the grid's points: swept values, mean and interval."""
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
