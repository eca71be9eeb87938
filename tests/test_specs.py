"""Experiment specs (comparison, sweep, sensitivity): pydantic models of the YAML files.

What the tests must show: the shipped specs load; unknown keys and wrong values are refused
with a SpecError whose every line names the spec file and the field (values shortened), one
line per problem; problems of the scenario a spec names are ScenarioErrors naming the file and
``scenario`` or ``overrides``; the scenario is read the same way by the three kinds of spec
(a path relative to the spec, or an inline mapping, then ``overrides``); null means default.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SMALL_SCENARIO

import sim
from sim.experiments.compare import load_comparison_spec
from sim.experiments.sensitivity import load_sensitivity_spec
from sim.experiments.specs import ExperimentSpec
from sim.experiments.sweep import DEFAULT_METRICS, load_sweep_spec
from sim.foundation.errors import SHOWN_CHARACTERS, SpecError, shown

ROOT = Path(__file__).resolve().parents[1]
LOADERS: dict[str, Callable[[Path], ExperimentSpec]] = {
    "comparison": load_comparison_spec, "sweep": load_sweep_spec,
    "sensitivity": load_sensitivity_spec}
GOOD: dict[str, dict[str, Any]] = {
    "comparison": {"scenario": "small.yaml", "variants": {"fcfs": {}, "cap": None}},
    "sweep": {"scenario": "small.yaml", "grid": {"platform.daily_cap": [3, None]}},
    "sensitivity": {"scenario": "small.yaml", "method": "morris", "n": 2,
                    "outputs": ["earnings_gini"],
                    "problem": {"requesters.batches_per_day": [100, 300]}},
}


def write(folder: Path, kind: str, **fields: Any) -> Path:
    """A ``kind`` spec (the good one with ``fields`` changed; "REMOVE" removes one) beside
    the small scenario."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "small.yaml").write_text(yaml.safe_dump(SMALL_SCENARIO))
    spec = {**GOOD[kind], **fields}
    path = folder / f"{kind}.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in spec.items() if v != "REMOVE"}))
    return path


@pytest.mark.parametrize("path", [ROOT / "scenarios" / "policies.yaml",
                                  ROOT / "scenarios" / "labour_supply.yaml",
                                  *sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))])
def test_shipped_specs_load(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    kind = "comparison" if "variants" in data else "sweep" if "grid" in data else "sensitivity"
    spec = LOADERS[kind](path)
    assert spec.name == path.stem and isinstance(spec.scenario, sim.Scenario)


FIELD_ERRORS = [
    ("comparison", {"replications": 1}, "replications"),
    ("comparison", {"seed": -1}, "seed"),
    ("comparison", {"seed": "one"}, "seed"),
    ("comparison", {"processes": 0}, "processes"),
    ("comparison", {"baseline": 3}, "baseline"),
    ("comparison", {"variants": {}}, "variants"),
    ("comparison", {"variants": ["fcfs"]}, "variants"),
    ("comparison", {"variants": {"a b": {}}}, "variants.a b"),
    ("comparison", {"variants": {"a": [1]}}, "variants.a"),
    ("comparison", {"target": {"metric": "earnings_gini", "half_width": 0}},
     "target.half_width"),
    ("comparison", {"target": {"metric": "earnings_gini"}}, "target.half_width"),
    ("comparison", {"target": {"metric": "earnings_gini", "half_width": 1, "max": 3}},
     "target.max"),
    ("comparison", {"target": {"metric": "gini", "half_width": 1}}, "target.metric"),
    ("comparison", {"scenario": None}, "scenario"),
    ("comparison", {"scenario": 3}, "scenario"),
    ("comparison", {"overrides": [1]}, "overrides"),
    ("comparison", {"colour": "red"}, "colour"),
    ("sweep", {"grid": 3}, "grid"),
    ("sweep", {"grid": "REMOVE"}, "grid"),
    ("sweep", {"grid": {"platform.daily_cap": 3}}, "grid.platform.daily_cap"),
    ("sweep", {"replications": 0}, "replications"),
    ("sweep", {"replications": True}, "replications"),
    ("sweep", {"seed": 1.5}, "seed"),
    ("sweep", {"metrics": ["gini"]}, "metrics"),
    ("sweep", {"metrics": "gini"}, "metrics"),
    ("sweep", {"processes": "2"}, "processes"),
    ("sweep", {"overrides": "horizon=1d"}, "overrides"),
    ("sensitivity", {"method": "fast"}, "method"),
    ("sensitivity", {"n": 1}, "n"),
    ("sensitivity", {"n": 6, "method": "sobol"}, "n"),
    ("sensitivity", {"levels": 1}, "levels"),
    ("sensitivity", {"second_order": "yes"}, "second_order"),
    ("sensitivity", {"outputs": []}, "outputs"),
    ("sensitivity", {"outputs": "REMOVE"}, "outputs"),
    ("sensitivity", {"problem": {}}, "problem"),
    ("sensitivity", {"problem": {"a": {"set": "workers", "bounds": [2, 1]}}},
     "problem.a.bounds"),
    ("sensitivity", {"problem": {"a": {"set": "workers", "bounds": [1, 2], "steps": 3}}},
     "problem.a.steps"),
    ("sensitivity", {"replications": 0}, "replications"),
]


@pytest.mark.parametrize(("kind", "fields", "field"), FIELD_ERRORS)
def test_every_field_error_names_the_file_and_the_field(
        tmp_path: Path, kind: str, fields: dict[str, Any], field: str) -> None:
    path = write(tmp_path, kind, **fields)
    with pytest.raises(SpecError) as err:
        LOADERS[kind](path)
    lines = str(err.value).splitlines()
    assert lines and all(line.startswith(f"{path}: {field}: ") for line in lines), lines


def test_one_line_per_problem_and_values_shortened(tmp_path: Path) -> None:
    path = write(tmp_path, "sweep", replications=0, seed="x" * 5000, colour=1)
    with pytest.raises(SpecError) as err:
        load_sweep_spec(path)
    assert str(err.value).splitlines() == [
        f"{path}: replications: expected at least 1 (got 0)",
        f"{path}: seed: expected a whole number (got {shown('x' * 5000)})",
        f"{path}: colour: unknown key; allowed: scenario, overrides, grid, replications, "
        "seed, metrics, processes"]
    assert len(shown("x" * 5000)) <= SHOWN_CHARACTERS


@pytest.mark.parametrize("kind", list(LOADERS))
def test_problems_of_the_scenario_are_scenario_errors(tmp_path: Path, kind: str) -> None:
    """The scenario a spec names is read the same way by every kind of spec; its own
    problems are ScenarioErrors naming the spec file and where the scenario comes from."""
    path = write(tmp_path, kind, scenario="missing.yaml")
    with pytest.raises(sim.ScenarioError, match=rf"{path}: scenario: .*missing\.yaml"):
        LOADERS[kind](path)
    path = write(tmp_path, kind, overrides={"workers": 0})
    with pytest.raises(sim.ScenarioError, match=rf"{path}: overrides: .*workers"):
        LOADERS[kind](path)


@pytest.mark.parametrize("kind", list(LOADERS))
def test_inline_scenario_and_overrides(tmp_path: Path, kind: str) -> None:
    inline = copy.deepcopy(SMALL_SCENARIO)
    spec = LOADERS[kind](write(tmp_path, kind, scenario=inline,
                               overrides={"horizon": "1d", "workers": 30}))
    assert spec.scenario.workers == 30 and spec.scenario.horizon == 86_400
    assert spec.overrides == {"horizon": "1d", "workers": 30}
    from_file = LOADERS[kind](write(tmp_path, kind))
    assert from_file.scenario == sim.load_scenario(SMALL_SCENARIO)


def test_null_means_the_default(tmp_path: Path) -> None:
    spec = load_sweep_spec(write(tmp_path, "sweep", replications=None, seed=None,
                                 metrics=None, processes=None, overrides=None))
    assert (spec.replications, spec.seed, spec.metrics, spec.processes, spec.overrides) == (
        10, 1, list(DEFAULT_METRICS), None, {})
    compared = load_comparison_spec(write(tmp_path, "comparison", seed=None))
    assert compared.seed is None and compared.variants == {"fcfs": {}, "cap": {}}
    assert compared.scenario_file == (tmp_path / "small.yaml").resolve()


def test_a_spec_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match=rf"{path}: a sweep spec is a mapping with keys "
                                        "scenario, overrides, grid"):
        load_sweep_spec(path)
