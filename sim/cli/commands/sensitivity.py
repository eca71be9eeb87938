"""``microwork sensitivity``: sample a spec's problem, run every point (resumable from
``<out>.partial``), analyse, write the sensitivity folder, print the indices."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli.commands import files_only, spec_of
from sim.cli.output import Output, default_experiment_out
from sim.experiments.sensitivity import SensitivityResult, load_sensitivity_spec, sensitivity
from sim.presentation.figures import save_sensitivity_plots
from sim.presentation.text import format_sensitivity


def main(args: argparse.Namespace) -> int:
    """Sample, run (resuming from ``<out>.partial``), analyse, write the result folder
    atomically, print the indices."""
    files_only()
    spec = spec_of(args, args.spec, load_sensitivity_spec)
    out = Output.choose(args.out, default_experiment_out(spec.name, "sensitivity"),
                        "sensitivity")
    currency = spec.scenario.currency

    def launch(state: Path) -> SensitivityResult:
        return sensitivity(
            spec.scenario, spec.problem, spec.method, args.n or spec.n, spec.outputs,
            replications=args.replications or spec.replications,
            seed=spec.seed if args.seed is None else args.seed,
            second_order=spec.second_order, levels=spec.levels, executor=args.executor,
            processes=args.processes or spec.processes, store=state, progress=not args.quiet,
            repair=args.repair, max_memory=args.max_memory)

    def write(result: SensitivityResult, folder: Path, wall: float) -> None:
        result.write_into(folder, {"command": "sensitivity",
                                   "source": str(Path(args.spec).resolve()),
                                   "cli_wall_time": wall})
        if not args.no_plots:
            save_sensitivity_plots(result, folder, currency)

    return out.experiment(launch, write, lambda result: format_sensitivity(result, currency),
                          args.quiet)
