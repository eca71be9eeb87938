"""``microwork calibrate``: (fit, then) compare a calibrated scenario's simulated outcomes
with the published targets; writes calibration.csv, calibration.png (and fitted.yaml)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from sim.cli import EXIT_FAILURE, EXIT_OK
from sim.cli.commands import files_only, scenario_of
from sim.cli.output import Output, default_experiment_out
from sim.experiments import calibration
from sim.foundation.errors import UsageError
from sim.presentation import figures
from sim.presentation.text import format_calibration
from sim.results.storage import provenance, write_manifest


def _write(folder: Path, report: calibration.CalibrationReport, manifest: dict[str, Any],
           fitted_scenario: dict[str, Any] | None) -> None:
    """The calibration folder: the report's table and plot, the fitted scenario (after
    ``--fit``) and the manifest with the provenance every result records."""
    report.table.to_csv(folder / "calibration.csv", index=False)
    figures.save_calibration_plots(report, folder)
    if fitted_scenario is not None:
        (folder / "fitted.yaml").write_text(yaml.safe_dump(fitted_scenario, sort_keys=False))
    write_manifest(folder, "calibration", {**manifest, **provenance()})


def main(args: argparse.Namespace) -> int:
    """Check the inputs and the result folder, fit if asked, run the report, write the
    folder atomically and print the table; ``--check`` exits 1 when a target is out of band."""
    files_only()
    scenario = scenario_of(args)
    if scenario.calibration is None:
        raise UsageError(f"{args.scenario}: the scenario has no 'calibration' section")
    if args.targets is not None and not args.targets.is_file():
        raise UsageError(f"--targets {str(args.targets)!r}: no such file")
    targets = calibration.load_targets(args.targets)
    path = args.targets or calibration.PACKAGED_TARGETS
    calibration.check_targets(scenario, targets, str(path))
    out = Output.choose(args.out, default_experiment_out(scenario.name, "calibration"),
                        "calibration")
    fitted: dict[str, float] = {}
    if args.fit:
        log = (lambda message: None) if args.quiet else \
            (lambda message: print(message, file=sys.stderr))
        scenario, fitted = calibration.fit(scenario, targets, processes=args.processes,
                                           log=log, max_memory=args.max_memory)
    report = calibration.calibrate(scenario, targets, replications=args.replications,
                                   processes=args.processes, progress=not args.quiet,
                                   max_memory=args.max_memory)
    manifest = {"scenario": scenario.to_dict(), "targets_file": str(path), "fitted": fitted,
                "ok": report.ok}
    status = out.write(lambda folder: _write(folder, report, manifest,
                                             scenario.to_dict() if args.fit else None))
    if status != EXIT_OK:
        return status
    if not args.quiet:
        if fitted:
            print("Fitted: " + ", ".join(f"{k} = {v:.6g}" for k, v in fitted.items()))
        print(format_calibration(report))
        print(f"\nWrote {out.shown}")
    return EXIT_FAILURE if args.check and not report.ok else EXIT_OK
