"""One module per ``microwork`` sub-command, each with ``main(args) -> exit status``, and the
reading of their inputs: a scenario or a spec with the ``--set`` overrides applied."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import matplotlib

from sim.cli.parser import parse_overrides
from sim.experiments.specs import ExperimentSpec
from sim.scenario.loading import load_scenario, override
from sim.scenario.schema import Scenario

S = TypeVar("S", bound=ExperimentSpec)


def files_only() -> None:
    """Draw figures for files only, never in a window (the Agg backend)."""
    matplotlib.use("Agg")


def scenario_of(args: argparse.Namespace) -> Scenario:
    """The scenario file ``args.scenario`` with its ``--set`` overrides applied (syntax errors
    of ``--set`` are found before the file is read)."""
    changes = parse_overrides(args.overrides)
    scenario = load_scenario(args.scenario)
    return override(scenario, changes) if changes else scenario


def spec_of(args: argparse.Namespace, source: str | Path, load: Callable[[str | Path], S]) -> S:
    """The spec ``load(source)`` with ``--set`` applied to its scenario."""
    changes = parse_overrides(args.overrides)
    spec = load(source)
    if changes:
        spec.scenario = override(spec.scenario, changes)
    return spec
