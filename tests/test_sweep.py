"""Sweeps (issue 6): full-factorial grids with linked paths, paired seeds, interval tables,
the Parquet dataset and its query helpers, resuming after a killed sweep, spec files and the
``microwork sweep`` command.

Everything runs the tiny test scenario cut to one day (a run takes ~15 ms).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SMALL_SCENARIO

import sim
from sim.analysis.statistics import interval
from sim.cli import main
from sim.experiments import design
from sim.experiments.design import replication_seed
from sim.experiments.sweep import SweepResult, grid_points, load_sweep_spec, parse_grid
from sim.foundation.errors import SpecError, StoreError
from sim.results import dataset

ROOT = Path(__file__).resolve().parents[1]
GRID: dict[str, list[Any]] = {
    "platform.daily_cap": [3, 10, None],
    "profiles.employee.share,profiles.student.share": [[0.5, 0.3], [0.3, 0.5]],
}
PATHS = ["platform.daily_cap", "profiles.employee.share", "profiles.student.share"]


def tiny() -> dict[str, Any]:
    scn = copy.deepcopy(SMALL_SCENARIO)
    scn["horizon"] = "1d"
    return scn


@pytest.fixture(scope="module")
def reference() -> SweepResult:
    """6 points x 3 replications, in this process, without a store."""
    return sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess",
                     progress=False)


# ------------------------------------------------------------------ grid and tables
def test_points_are_the_full_factorial_product(reference: SweepResult) -> None:
    points = reference.points
    assert list(points.columns) == ["point", *PATHS]
    assert len(points) == 6
    assert points["platform.daily_cap"].tolist() == [3, 3, 10, 10, None, None]  # first slowest
    assert points["profiles.employee.share"].tolist() == [0.5, 0.3] * 3
    assert points["profiles.student.share"].tolist() == [0.3, 0.5] * 3  # linked: moves along
    runs = reference.runs
    assert list(runs.columns[:6]) == ["point", *PATHS, "replication", "seed"]
    assert len(runs) == 18 and runs[["point", "replication"]].duplicated().sum() == 0


def test_each_point_runs_its_overrides(reference: SweepResult) -> None:
    """A run of the table is the run of sim.run on the point's scenario with the
    replication's seed."""
    row = reference.runs.iloc[7]  # point 2, replication 1
    assert (row["point"], row["replication"]) == (2, 1)
    scn = sim.override(sim.load_scenario(tiny()), {
        "platform.daily_cap": 10, "profiles.employee.share": 0.5,
        "profiles.student.share": 0.3})
    res = sim.run(scn, seed=replication_seed(7, 1))
    for key, value in res.summary.items():
        assert row[key] == value or (np.isnan(value) and np.isnan(row[key])), key


def test_replications_are_paired_across_points(reference: SweepResult) -> None:
    """Replication r runs with the same seed at every point (common random numbers)."""
    seeds = reference.runs.pivot(index="replication", columns="point", values="seed")
    assert (seeds.nunique(axis=1) == 1).all()
    assert seeds[0].tolist() == [replication_seed(7, r) for r in range(3)]


def test_table_holds_the_interval_of_each_point(reference: SweepResult) -> None:
    table = reference.table(["earnings_gini", "claim_latency_mean"])
    assert list(table.columns) == ["point", *PATHS, "metric", "n", "mean", "se", "ci_low",
                                   "ci_high"]
    assert len(table) == 12 and (table["n"] == 3).all()
    row = table[(table["point"] == 4) & (table["metric"] == "earnings_gini")].iloc[0]
    values = reference.runs.loc[reference.runs["point"] == 4, "earnings_gini"].to_numpy()
    assert (row["mean"], row["se"], row["ci_low"], row["ci_high"]) == interval(values, 0.95)
    assert row["platform.daily_cap"] is None


def test_a_tighter_cap_changes_the_market(reference: SweepResult) -> None:
    """Sanity of the sweep itself: a cap of 3 tasks a day leaves tasks unclaimed that no cap
    lets the always-on scripts take."""
    table = reference.table(["fill_rate"]).groupby("platform.daily_cap", dropna=False)["mean"]
    means = table.mean()
    assert means.loc[3] < means.loc[10]


# ------------------------------------------------------------------ grid errors
@pytest.mark.parametrize(("grid", "message"), [
    ({}, "grid: expected a mapping"),
    ({"platform.daily_cap": 5}, r"grid.platform.daily_cap: expected a non-empty list"),
    ({"platform.daily_cap": []}, r"grid.platform.daily_cap: expected a non-empty list"),
    ({"a.b,c.d": [[1, 2], [3]]}, r"grid.a.b,c.d: linked paths take lists of 2 values"),
    ({"a.b,": [[1, 2]]}, "empty path"),
    ({"platform.daily_cap": [1], "x,platform.daily_cap": [[1, 2]]}, "set by two axes"),
])
def test_bad_grids(grid: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_grid(grid)


@pytest.mark.parametrize(("grid", "message"), [
    ({"platform.daily_cap": [5, 0]}, r"(?s)grid point 1: .*platform.daily_cap.*greater than or "
                                     r"equal to 1.*\(got 0\)"),
    ({"platform.daly_cap": [5]}, r"(?s)grid point 0: .*platform.daly_cap: unknown key"),
    ({"profiles.employee.share": [0.5, 0.6]}, r"(?s)grid point 1: .*shares? must sum to 1"),
])
def test_bad_points_fail_before_any_run(grid: dict[str, Any], message: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every point is validated before the first run; the error names the point, the field
    and the value."""
    calls: list[Any] = []
    monkeypatch.setattr(design, "run_point", lambda *a: calls.append(a))
    with pytest.raises(sim.ScenarioError, match=message):
        sim.sweep(tiny(), grid, replications=1, executor="inprocess", progress=False)
    assert calls == []


def test_other_argument_errors() -> None:
    with pytest.raises(SpecError, match="replications: expected a whole number from 1, got 0"):
        sim.sweep(tiny(), GRID, replications=0, progress=False)
    with pytest.raises(TypeError, match="replications: expected a whole number"):
        sim.sweep(tiny(), GRID, replications=2.5, progress=False)
    with pytest.raises(SpecError, match="tables: got 'sessions'"):
        sim.sweep(tiny(), GRID, tables=["sessions"], store="x", progress=False)
    with pytest.raises(SpecError, match="needs a store folder"):
        sim.sweep(tiny(), GRID, tables=["workers"], progress=False)


def test_grid_points_of_a_tuple_key() -> None:
    axes = parse_grid({("a.b", "c.d"): [(1, 2), (3, 4)], "e": ["x"]})
    assert grid_points(axes) == [[1, 2, "x"], [3, 4, "x"]]


# ------------------------------------------------------------------ dataset and queries
def test_dataset_and_query_helpers(tmp_path: Path, reference: SweepResult) -> None:
    """Runs stream to one Parquet file each; the query helpers read them back (selected
    metrics and points only), with the points' parameters."""
    store = tmp_path / "sweep"
    result = sim.sweep(tiny(), GRID, replications=3, seed=7, processes=2, store=store,
                       tables=["workers"], progress=False)
    pd.testing.assert_frame_equal(result.runs, reference.runs, check_exact=True)
    files = sorted(p.name for p in (store / "runs").iterdir())
    assert files == [dataset.run_file_name(p, r) for p in range(6) for r in range(3)]
    runs = dataset.load_runs(store)
    pd.testing.assert_frame_equal(runs, reference.runs, check_exact=True)
    some = dataset.load_runs(store, metrics=["earnings_gini"], points=[1, 4])
    assert list(some.columns) == ["point", *PATHS, "replication", "seed", "earnings_gini"]
    assert some["point"].tolist() == [1, 1, 1, 4, 4, 4]
    lean = dataset.load_runs(store, metrics=["fill_rate"], parameters=False)
    assert list(lean.columns) == ["point", "replication", "seed", "fill_rate"]
    points = dataset.load_points(store)
    pd.testing.assert_frame_equal(points, reference.points)
    workers = dataset.load_table(store, "workers", points=[2])
    assert set(workers["replication"]) == {0, 1, 2} and (workers["point"] == 2).all()
    assert len(workers) == 3 * 60
    with pytest.raises(SpecError, match="unknown column"):
        dataset.load_runs(store, metrics=["gini"])
    with pytest.raises(StoreError, match="no tasks tables kept"):
        dataset.load_table(store, "tasks")


def test_saved_result_folder_reads_back(tmp_path: Path, reference: SweepResult) -> None:
    folder = reference.save(tmp_path / "out")
    assert {p.name for p in folder.iterdir()} == {"runs.parquet", "points.json", "table.csv",
                                                  "manifest.json"}
    pd.testing.assert_frame_equal(dataset.load_runs(folder), reference.runs, check_exact=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["replications"] == 3
    assert manifest["grid"]["platform.daily_cap"] == [3, 10, None]


# ------------------------------------------------------------------ resuming
KILL_SCRIPT = """
import json, sys, time
import sim
import sim.experiments.design as module
original = module.run_point

def slow(*args):
    out = original(*args)
    time.sleep(0.1)  # slow enough for the test to kill the sweep halfway
    return out

module.run_point = slow
scenario, grid, store = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
sim.sweep(scenario, grid, replications=3, seed=7, executor="inprocess", store=store,
          progress=False)
"""


def counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the (point, replication) of every run actually computed (in-process)."""
    original = design.run_point
    calls: list[tuple[int, int]] = []

    def wrapper(scn: sim.Scenario, point: int, replication: int, *rest: Any) -> Any:
        calls.append((point, replication))
        return original(scn, point, replication, *rest)

    monkeypatch.setattr(design, "run_point", wrapper)
    return calls


def test_killed_sweep_resumes_with_only_the_missing_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: SweepResult) -> None:
    """A sweep killed (SIGKILL) after a few runs leaves those runs on disk; running it again
    computes exactly the missing runs and ends with the same dataset and tables as a sweep
    that was never interrupted."""
    store = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, json.dumps(tiny()),
                             json.dumps(GRID), str(store)], cwd=ROOT)
    runs = store / "runs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.exists() and len(list(runs.glob("*.parquet"))) >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {dataset._parse_run_file_name(p.name) for p in runs.glob("*.parquet")}
    assert 5 <= len(done) < 18

    calls = counting(monkeypatch)
    resumed = sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess",
                        store=store, progress=False)
    everything = {(p, r) for p in range(6) for r in range(3)}
    assert sorted(calls) == sorted(everything - done)
    assert resumed.stats["runs_computed"] == 18 - len(done)
    assert resumed.stats["runs_resumed"] == len(done)
    pd.testing.assert_frame_equal(resumed.runs, reference.runs, check_exact=True)
    pd.testing.assert_frame_equal(dataset.load_runs(store), reference.runs, check_exact=True)
    pd.testing.assert_frame_equal(resumed.table(), reference.table(), check_exact=True)

    calls.clear()  # a finished sweep is not recomputed at all
    again = sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess",
                      store=store, progress=False)
    assert calls == [] and again.stats["runs_computed"] == 0
    pd.testing.assert_frame_equal(again.runs, reference.runs, check_exact=True)


def test_more_replications_reuse_the_store(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           reference: SweepResult) -> None:
    store = tmp_path / "sweep"
    sim.sweep(tiny(), GRID, replications=1, seed=7, executor="inprocess", store=store,
              progress=False)
    calls = counting(monkeypatch)
    more = sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess", store=store,
                     progress=False)
    assert sorted(calls) == [(p, r) for p in range(6) for r in (1, 2)]
    pd.testing.assert_frame_equal(more.runs, reference.runs, check_exact=True)


@pytest.mark.parametrize("change", ["seed", "grid", "scenario"])
def test_store_of_another_sweep_is_refused(tmp_path: Path, change: str) -> None:
    store = tmp_path / "sweep"
    grid = {"platform.daily_cap": [3, None]}
    sim.sweep(tiny(), grid, replications=1, seed=7, executor="inprocess", store=store,
              progress=False)
    scenario, seed = tiny(), 7
    if change == "seed":
        seed = 8
    elif change == "grid":
        grid = {"platform.daily_cap": [4, None]}
    else:
        scenario["workers"] = 61
    with pytest.raises(StoreError, match="different experiment"):
        sim.sweep(scenario, grid, replications=1, seed=seed, executor="inprocess",
                  store=store, progress=False)


# ------------------------------------------------------------------ spec files and CLI
def write_spec(folder: Path, **fields: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "small.yaml").write_text(yaml.safe_dump(tiny()))
    spec = {"scenario": "small.yaml", "grid": {"platform.daily_cap": [3, None]},
            "replications": 2, "seed": 3, "metrics": ["earnings_gini", "fill_rate"], **fields}
    path = folder / "capsweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_shipped_sweep_specs_load() -> None:
    spec = load_sweep_spec(ROOT / "scenarios" / "sweeps" / "daily_cap_distressed.yaml")
    axes = parse_grid(spec.grid)
    assert [a.paths for a in axes] == [
        ("platform.daily_cap",), ("profiles.distressed.share", "profiles.part_time.share")]
    assert len(grid_points(axes)) == 12
    for level in axes[1].values:  # the linked share keeps the profile shares summing to 1
        assert sum(level) + spec.scenario.profiles["employee"].share == pytest.approx(1)


def test_cli_sweep_writes_the_result_folder(tmp_path: Path, capsys: Any) -> None:
    spec = write_spec(tmp_path / "specs")
    out = tmp_path / "out"
    status = main(["sweep", str(spec), "--out", str(out), "--executor", "inprocess"])
    assert status == 0
    text = capsys.readouterr().out
    assert "Earnings Gini: mean over 2 replications" in text and "none" in text
    assert {p.name for p in out.iterdir()} == {
        "runs.parquet", "points.json", "table.csv", "manifest.json",
        "lines_earnings_gini.png", "lines_fill_rate.png"}
    assert not (tmp_path / "out.partial").exists()
    runs = dataset.load_runs(out)
    assert len(runs) == 4 and runs["platform.daily_cap"].tolist() == [3, 3, None, None]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "sweep" and manifest["runs_computed"] == 4


def test_cli_sweep_set_and_replications(tmp_path: Path, capsys: Any) -> None:
    spec = write_spec(tmp_path / "specs")
    out = tmp_path / "out"
    status = main(["sweep", str(spec), "--out", str(out), "--executor", "inprocess",
                   "--replications", "1", "--set", "workers=30", "--quiet", "--no-plots"])
    assert status == 0
    assert capsys.readouterr().out.strip() == str(out)
    runs = dataset.load_runs(out)
    assert len(runs) == 2 and (runs["workers"] == 30).all()


@pytest.mark.parametrize(("fields", "args", "message"), [
    ({"grid": {"platform.daily_cap": 3}}, [], "grid.platform.daily_cap: expected a non-empty"),
    ({"grdi": {}}, [], "capsweep.yaml: grdi: unknown key; allowed: scenario, overrides, grid"),
    ({"metrics": ["gini"]}, [], "metrics: unknown metric 'gini'; allowed: workers"),
    ({"replications": 0}, [], "capsweep.yaml: replications: expected at least 1 (got 0)"),
    ({"grid": {"platform.daily_cap": [0]}}, [], "grid point 0"),
    ({}, ["--executor", "threads"], "--executor: expected local, inprocess, dask"),
    ({}, ["--set", "horizon"], "--set 'horizon': expected PATH=VALUE"),
])
def test_cli_sweep_bad_input_exits_2(tmp_path: Path, capsys: Any, fields: dict[str, Any],
                                     args: list[str], message: str) -> None:
    spec = write_spec(tmp_path / "specs", **fields)
    status = main(["sweep", str(spec), "--out", str(tmp_path / "out"), *args])
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_cli_sweep_interrupted_then_resumed(tmp_path: Path, capsys: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after 2 runs: exit 130, the finished runs stay in <out>.partial; the same command
    then computes only the 2 missing runs and removes the partial folder."""
    spec = write_spec(tmp_path / "specs")
    out = tmp_path / "out"
    original = design.run_point
    calls: list[Any] = []

    def interrupted(*args: Any) -> Any:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args[1:3])
        return original(*args)

    monkeypatch.setattr(design, "run_point", interrupted)
    args = ["sweep", str(spec), "--out", str(out), "--executor", "inprocess", "--no-plots"]
    assert main(args) == 130
    assert "2 finished runs are kept in" in capsys.readouterr().err
    assert len(list((tmp_path / "out.partial" / "runs").glob("*.parquet"))) == 2
    assert not out.exists()

    monkeypatch.setattr(design, "run_point", original)
    resumed = counting(monkeypatch)
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "resuming from" in captured.err and "2 finished runs found" in captured.err
    assert sorted(resumed) == sorted({(0, 0), (0, 1), (1, 0), (1, 1)} - set(calls))
    assert "2 runs computed" in captured.out and "2 resumed" in captured.out
    assert not (tmp_path / "out.partial").exists() and len(dataset.load_runs(out)) == 4


# ------------------------------------------------------------------ damaged stores
def test_damaged_run_files_are_errors_until_repaired(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: SweepResult) -> None:
    """A truncated run file is never counted as finished: opening the store raises
    StoreError naming it (and the way out) before any run; ``repair=True`` deletes it and
    computes that run again, giving the same tables as an undamaged sweep."""
    store = tmp_path / "sweep"
    sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess", store=store,
              progress=False)
    victim = store / "runs" / dataset.run_file_name(2, 1)
    victim.write_bytes(victim.read_bytes()[:60])
    other = store / "runs" / dataset.run_file_name(4, 0)
    other.write_bytes((store / "runs" / dataset.run_file_name(0, 0)).read_bytes())  # misplaced
    calls = counting(monkeypatch)
    for _ in range(2):  # the same error on every attempt, nothing computed
        with pytest.raises(StoreError, match=rf"{victim.name} is damaged: cannot be read as "
                                             r"Parquet.*1 more damaged file.*--repair"):
            sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess",
                      store=store, progress=False)
    assert calls == []
    repaired = sim.sweep(tiny(), GRID, replications=3, seed=7, executor="inprocess",
                         store=store, progress=False, repair=True)
    assert sorted(calls) == [(2, 1), (4, 0)]
    assert repaired.stats["runs_resumed"] == 16
    pd.testing.assert_frame_equal(repaired.runs, reference.runs, check_exact=True)


def test_a_damaged_kept_table_recomputes_its_run(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "sweep"
    grid = {"platform.daily_cap": [3, None]}
    sim.sweep(tiny(), grid, replications=1, seed=7, executor="inprocess", store=store,
              tables=["workers"], progress=False)
    table = store / "tables" / "workers" / dataset.run_file_name(1, 0)
    table.write_bytes(table.read_bytes()[:100])
    with pytest.raises(StoreError, match=table.name):
        sim.sweep(tiny(), grid, replications=1, seed=7, executor="inprocess", store=store,
                  tables=["workers"], progress=False)
    calls = counting(monkeypatch)
    sim.sweep(tiny(), grid, replications=1, seed=7, executor="inprocess", store=store,
              tables=["workers"], progress=False, repair=True)
    assert calls == [(1, 0)]
    assert len(dataset.load_table(store, "workers", points=[1])) == 60


def test_cli_sweep_repair(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(tmp_path / "specs")
    out = tmp_path / "out"
    args = ["sweep", str(spec), "--out", str(out), "--executor", "inprocess", "--no-plots"]
    original = design.run_point
    done: list[Any] = []

    def interrupted(*a: Any) -> Any:
        if len(done) == 3:
            raise KeyboardInterrupt
        done.append(1)
        return original(*a)

    monkeypatch.setattr(design, "run_point", interrupted)
    assert main(args) == 130
    monkeypatch.setattr(design, "run_point", original)
    victim = sorted((tmp_path / "out.partial" / "runs").glob("*.parquet"))[0]
    victim.write_bytes(b"PAR1")
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"error: {victim} is damaged")
    assert "--repair" in err and "Traceback" not in err
    assert main([*args, "--repair"]) == 0
    text = capsys.readouterr().out
    assert "2 runs computed" in text and "2 resumed" in text  # 1 missing + 1 damaged
    assert len(dataset.load_runs(out)) == 4 and not (tmp_path / "out.partial").exists()


def test_load_points_of_a_damaged_folder(tmp_path: Path, reference: SweepResult) -> None:
    folder = reference.save(tmp_path / "out")
    (folder / "points.json").write_text('{"parameters": [')
    with pytest.raises(StoreError, match=r"points\.json: it is not valid JSON"):
        dataset.load_runs(folder)
