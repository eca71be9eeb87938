"""``microwork sensitivity``: sample a spec's problem, run every point (resumable from
``<out>.partial``), analyse, write the sensitivity folder, print the indices."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.cli.commands import files_only, spec_of
from sim.cli.output import Output, default_experiment_out
from sim.experiments.sensitivity import SensitivityResult, load_sensitivity_spec, sensitivity
from sim.presentation.sweep_figures import save_sensitivity_plots
from sim.presentation.text import metric_label
from sim.presentation.text import table as text_table


def format_sensitivity(result: Any, currency: str = "EUR") -> str:
    """Per output, a table of the parameters' indices with their bootstrap intervals."""
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
