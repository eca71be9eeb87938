"""Global sensitivity analysis (issue 6): SALib sampling and analysis over scenario paths.

The central check: on a scenario where one parameter has no effect by construction (the
reward of a task type that requesters never post), its Sobol' and Morris indices come out
at zero within SALib's own bootstrap intervals, while the parameters that do act on the
market have intervals clear of zero. The tiny test scenario is cut to one day.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SMALL_SCENARIO

import sim
from sim.cli import main
from sim.experiments.sensitivity import (
    SensitivityResult,
    load_sensitivity_spec,
    parse_problem,
    sample,
)
from sim.foundation.errors import SpecError
from sim.results import dataset
from sim.scenario.paths import expand_path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ["earnings_gini", "claim_latency_mean"]
PROBLEM: dict[str, Any] = {
    "requesters.batches_per_day": [100, 300],
    "speed": {"scale": "profiles.always_on.speed.value", "bounds": [0.5, 2], "log": True},
    # shelf photos are never posted (task_mix weight 0): their reward cannot change anything
    "dummy": {"scale": "task_types.shelf_photo.reward.value", "bounds": [0.5, 2]},
}


def market() -> dict[str, Any]:
    scn = copy.deepcopy(SMALL_SCENARIO)
    scn["horizon"] = "1d"
    scn["requesters"]["task_mix"] = {"survey": 0.5, "search": 0.5, "shelf_photo": 0.0}
    return scn


@pytest.fixture(scope="module")
def sobol() -> SensitivityResult:
    """Saltelli sample with n = 64: 64 x (3 + 2) = 320 runs on 2 processes (~3 s)."""
    return sim.sensitivity(market(), PROBLEM, "sobol", n=64, outputs=OUTPUTS, seed=1,
                           processes=2, progress=False)


@pytest.fixture(scope="module")
def morris() -> SensitivityResult:
    """10 Morris trajectories of 4 points: 40 runs."""
    return sim.sensitivity(market(), PROBLEM, "morris", n=10, outputs=OUTPUTS, seed=1,
                           processes=2, progress=False)


def index(result: SensitivityResult, output: str, parameter: str, name: str) -> pd.Series:
    rows = result.indices.set_index(["output", "parameter", "index"])
    return rows.loc[(output, parameter, name)]


# ------------------------------------------------------------------ the no-effect parameter
def test_runs_differing_only_in_the_dummy_are_identical(sobol: SensitivityResult) -> None:
    """By construction: Saltelli's matrix AB_dummy differs from A only in the dummy column,
    and with common seeds those runs give identical summaries."""
    d = len(PROBLEM)
    y = sobol.runs.set_index("point")[OUTPUTS]
    rows_a = np.arange(0, len(sobol.x), d + 2)
    rows_ab_dummy = rows_a + 1 + 2  # A, AB_0, AB_1, AB_2 (dummy), ..., B per block
    assert not np.array_equal(sobol.x[rows_a, 2], sobol.x[rows_ab_dummy, 2])
    np.testing.assert_array_equal(y.loc[rows_a].to_numpy(), y.loc[rows_ab_dummy].to_numpy())


@pytest.mark.parametrize("output", OUTPUTS)
def test_sobol_indices_of_the_dummy_are_zero_within_their_interval(
        sobol: SensitivityResult, output: str) -> None:
    """The dummy's S1 and ST lie within their own bootstrap half-width of zero (the interval
    contains 0), and that half-width is negligible next to the active parameters' ones."""
    for name in ("S1", "ST"):
        dummy = index(sobol, output, "dummy", name)
        assert abs(dummy["value"]) <= dummy["conf"] + 1e-12, dummy.to_dict()
        assert dummy["ci_low"] <= 0 <= dummy["ci_high"] + 1e-12
        active = min(index(sobol, output, p, name)["conf"]
                     for p in ("requesters.batches_per_day", "speed"))
        assert dummy["conf"] < active / 10


def test_active_parameters_are_detected(sobol: SensitivityResult) -> None:
    """The parameters that change the market have total indices with intervals clear of 0:
    demand drives claim latency, the scripts' speed and demand drive the Gini."""
    assert index(sobol, "claim_latency_mean", "requesters.batches_per_day", "ST")["ci_low"] > 0
    for parameter in ("requesters.batches_per_day", "speed"):
        assert index(sobol, "earnings_gini", parameter, "ST")["ci_low"] > 0, parameter


@pytest.mark.parametrize("output", OUTPUTS)
def test_morris_screens_out_the_dummy(morris: SensitivityResult, output: str) -> None:
    dummy = index(morris, output, "dummy", "mu_star")
    assert abs(dummy["value"]) <= dummy["conf"] + 1e-12
    assert index(morris, output, "dummy", "sigma")["value"] == 0
    for parameter in ("requesters.batches_per_day", "speed"):
        row = index(morris, output, parameter, "mu_star")
        assert row["ci_low"] > dummy["ci_high"], (parameter, row.to_dict())


# ------------------------------------------------------------------ tables
def test_tidy_indices_table(sobol: SensitivityResult, morris: SensitivityResult) -> None:
    assert list(sobol.indices.columns) == ["output", "parameter", "index", "value", "conf",
                                           "ci_low", "ci_high"]
    assert len(sobol.indices) == len(OUTPUTS) * 3 * 2  # S1 and ST per parameter and output
    np.testing.assert_allclose(sobol.indices["ci_high"] - sobol.indices["ci_low"],
                               2 * sobol.indices["conf"])
    assert set(morris.indices["index"]) == {"mu", "mu_star", "sigma"}
    assert len(sobol.x) == 64 * (3 + 2) and len(morris.x) == 10 * (3 + 1)


def test_runs_carry_the_parameter_values(sobol: SensitivityResult) -> None:
    """Each run's scenario is the base with the sampled values: speed is a log-uniform factor
    on the base speed (1.3), batches_per_day is set."""
    runs = sobol.runs
    assert list(runs.columns[:6]) == ["point", "requesters.batches_per_day", "speed", "dummy",
                                      "replication", "seed"]
    np.testing.assert_allclose(runs["speed"], np.exp(sobol.x[:, 1]))
    assert runs["speed"].between(0.5, 2).all() and runs["dummy"].between(0.5, 2).all()
    assert (runs["seed"] == runs["seed"].iloc[0]).all()  # common random numbers


def test_analysis_is_reproducible(sobol: SensitivityResult) -> None:
    """Same seed, same sample and the same bootstrap intervals; any other summary metric can
    be analysed from the runs without running again."""
    x = sample(sobol.parameters, "sobol", 64, seed=1)
    np.testing.assert_array_equal(x, sobol.x)
    pd.testing.assert_frame_equal(sobol.analyze(), sobol.indices)
    other = sobol.analyze(["fill_rate"])
    assert set(other["output"]) == {"fill_rate"} and other["value"].notna().all()


def test_resume_from_the_store(tmp_path: Path, morris: SensitivityResult) -> None:
    store = tmp_path / "sa"
    first = sim.sensitivity(market(), PROBLEM, "morris", n=10, outputs=OUTPUTS, seed=1,
                            executor="inprocess", store=store, progress=False)
    again = sim.sensitivity(market(), PROBLEM, "morris", n=10, outputs=OUTPUTS, seed=1,
                            executor="inprocess", store=store, progress=False)
    assert first.stats["runs_computed"] == 40 and again.stats["runs_computed"] == 0
    pd.testing.assert_frame_equal(again.indices, morris.indices, check_exact=True)
    pd.testing.assert_frame_equal(dataset.load_runs(store), morris.runs, check_exact=True)


# ------------------------------------------------------------------ problem parsing
def test_wildcards_expand_over_numeric_fields() -> None:
    data = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").to_dict()
    assert expand_path("profiles.*.reservation_pay.median", data) == [
        "profiles.employee.reservation_pay.median", "profiles.part_time.reservation_pay.median",
        "profiles.distressed.reservation_pay.median"]
    # only the notification option of the distressed profile has a reaction delay
    assert expand_path("profiles.*.discovery.*.reaction.mean", data) == [
        "profiles.distressed.discovery.0.reaction.mean"]
    assert expand_path("platform.daily_cap", data) == ["platform.daily_cap"]


def test_parameters_set_and_scale() -> None:
    base = sim.load_scenario(market())
    reward, demand = parse_problem({
        "reward": {"scale": ["task_types.*.reward.value"], "bounds": [1, 4], "log": True},
        "requesters.batches_per_day": [50, 150.5],
    }, base)
    assert reward.scale == ("task_types.shelf_photo.reward.value",) and reward.base == (3.0,)
    assert reward.changes(2.0) == {"task_types.shelf_photo.reward.value": 6.0}
    assert reward.salib_bounds == pytest.approx([0.0, np.log(4)])
    assert demand.set == ("requesters.batches_per_day",) and demand.changes(70) == {
        "requesters.batches_per_day": 70}
    cap = parse_problem({"cap": {"set": "platform.daily_cap", "bounds": [1, 20],
                                 "integer": True}}, base)[0]
    assert cap.value(7.6) == 8


@pytest.mark.parametrize(("problem", "message"), [
    ({}, "problem: expected a mapping"),
    ({"a": 3}, "problem.a: expected"),
    ({"a": {"set": "workers", "bounds": [1, 2], "step": 1}},
     r"problem\.a\.step: unknown key; allowed: set, scale, bounds, log, integer"),
    ({"a": {"set": "workers", "bounds": [1, "2"]}},
     r"problem\.a\.bounds\.1: expected a number \(got '2'\)"),
    ({"a": {"set": ["workers", ""], "bounds": [1, 2]}},
     r"problem\.a\.set: expected a dotted scenario path or a list of them"),
    ({"a": {"set": "workers", "scale": "workers", "bounds": [1, 2]}}, "exactly one of"),
    ({"a": {"set": "workers", "bounds": [2, 1]}}, r"problem.a.bounds: expected \[low, high\]"),
    ({"a": {"scale": "workers", "bounds": [0, 1], "log": True}}, "needs positive bounds"),
    ({"a": {"scale": "profiles.*.nothing", "bounds": [1, 2]}}, "matches no numeric field"),
    ({"a": {"scale": "profiles.employee.description", "bounds": [1, 2]}}, "not a number"),
    ({"a": {"scale": "profiles.employee.speeed", "bounds": [1, 2]}}, "no field"),
    ({"a": {"scale": "workers", "bounds": [1, 2]}, "b": {"set": "workers", "bounds": [1, 2]}},
     "already changed by parameter 'a'"),
])
def test_bad_problems(problem: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_problem(problem, sim.load_scenario(market()))


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"method": "fast"}, SpecError, "method: got 'fast'; allowed: sobol, morris"),
    ({"n": 24}, SpecError, "n: got 24; Sobol' sampling needs a power of 2"),
    ({"outputs": ["gini"]}, SpecError, "outputs: unknown metric 'gini'"),
    ({"problem": {"workers": [10, 1000]}, "n": 2}, sim.ScenarioError,
     r"(?s)sample point \d+: .*workers"),
])
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    args = {"problem": PROBLEM, "outputs": OUTPUTS, **kwargs}
    with pytest.raises(error, match=message):
        sim.sensitivity(market(), executor="inprocess", progress=False, **args)


# ------------------------------------------------------------------ spec files and CLI
def test_shipped_sobol_spec_loads() -> None:
    spec = load_sensitivity_spec(ROOT / "scenarios" / "sweeps" / "sobol_behaviour.yaml")
    params = parse_problem(spec.problem, spec.scenario)
    assert [p.name for p in params] == ["reaction_time", "online_hours", "reservation_pay",
                                        "batch_size"]
    assert spec.outputs == ["earnings_gini", "claim_latency_mean", "hourly_effective_median"]
    assert spec.method == "sobol" and spec.scenario.horizon == 7 * 86400


def write_spec(folder: Path, **fields: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "market.yaml").write_text(yaml.safe_dump(market()))
    spec = {"scenario": "market.yaml", "method": "morris", "n": 4, "outputs": OUTPUTS,
            "problem": PROBLEM, **fields}
    path = folder / "screen.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_cli_sensitivity_writes_the_result_folder(tmp_path: Path, capsys: Any) -> None:
    spec = write_spec(tmp_path / "specs")
    out = tmp_path / "out"
    assert main(["sensitivity", str(spec), "--out", str(out), "--executor", "inprocess"]) == 0
    text = capsys.readouterr().out
    assert "Morris screening" in text and "dummy" in text
    assert {p.name for p in out.iterdir()} == {"indices.csv", "runs.parquet", "points.json",
                                               "manifest.json", "morris.png"}
    indices = pd.read_csv(out / "indices.csv")
    assert set(indices["parameter"]) == set(PROBLEM)
    assert len(dataset.load_runs(out)) == 4 * 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"] == "morris" and manifest["runs_computed"] == 16


@pytest.mark.parametrize(("fields", "args", "message"), [
    ({"method": "fast"}, [], "method: got 'fast'"),
    ({"n": 6, "method": "sobol"}, [], "n: got 6; Sobol' sampling needs a power of 2"),
    ({"problem": {"a": {"set": "workers"}}}, [], "problem.a.bounds"),
    ({"outputs": "gini"}, [], "screen.yaml: outputs: expected a list (got 'gini')"),
    ({"outputs": []}, [], "screen.yaml: outputs: expected a non-empty list"),
    ({"second_order": "yes"}, [], "screen.yaml: second_order: expected true or false"),
    ({"sample": 3}, [], "screen.yaml: sample: unknown key; allowed: scenario, overrides,"),
    ({}, ["--n", "1"], "--n: must be 2 or more"),
])
def test_cli_sensitivity_bad_input_exits_2(tmp_path: Path, capsys: Any,
                                           fields: dict[str, Any], args: list[str],
                                           message: str) -> None:
    spec = write_spec(tmp_path / "specs", **fields)
    assert main(["sensitivity", str(spec), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
