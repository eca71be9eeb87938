"""What microwork may replace or delete: the ``--out`` safety rule for every command that
writes a folder (run, compare, calibrate, sweep, sensitivity) and for the API savers, the same
rule for ``<out>.partial`` state folders, and the one atomic folder writer behind them all
(staging names, stale staging folders, permissions, safe names).

A folder is replaced only when it is empty, or when microwork wrote it (the marker in its
manifest) for the same kind of result and it holds nothing but the files microwork writes
there; anything else is refused with ``error: ...`` and exit status 2 before anything is
computed, and left byte for byte as it was.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SMALL_SCENARIO

import sim
from sim import cli
from sim.cli.output import default_out
from sim.experiments import design
from sim.experiments.compare import save_comparison
from sim.foundation.errors import StoreError
from sim.results import dataset
from sim.results import storage as folders

PROBLEM = {"batches": {"scale": "requesters.batches_per_day", "bounds": [0.5, 2]}}
TARGETS = """id,market,quantity,value,unit,tolerance,status,source
tiny_commission,tiny,platform commission,0.2,share,0.01,confirmed,test
tiny_fill,tiny,share of tasks claimed,0.5,share,0.5,confirmed,test
"""
CALIBRATION = {"market": "tiny", "replications": 2, "seed": 1, "targets": {
    "tiny_commission": {"role": "input", "paths": ["platform.commission"]},
    "tiny_fill": {"role": "held_out", "measure": "share_active_over_10"}}}


def tiny() -> dict[str, Any]:
    scenario = copy.deepcopy(SMALL_SCENARIO)
    scenario["horizon"] = "1d"
    return scenario


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """A scenario, a calibrated scenario with its targets file, a sweep spec and a
    sensitivity spec, all of the tiny market cut to one day."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(yaml.safe_dump(tiny()))
    (folder / "calibrated.yaml").write_text(yaml.safe_dump({**tiny(),
                                                            "calibration": CALIBRATION}))
    (folder / "targets.csv").write_text(TARGETS)
    (folder / "sweep.yaml").write_text(yaml.safe_dump(
        {"scenario": "tiny.yaml", "grid": {"platform.daily_cap": [3, None]},
         "replications": 1, "metrics": ["earnings_gini"]}))
    (folder / "sensitivity.yaml").write_text(yaml.safe_dump(
        {"scenario": "tiny.yaml", "method": "morris", "n": 2, "outputs": ["earnings_gini"],
         "problem": PROBLEM}))
    return {name: folder / f"{name}.yaml" for name in
            ("tiny", "calibrated", "sweep", "sensitivity")} | {"targets": folder / "targets.csv"}


def command(kind: str, inputs: dict[str, Path], out: Path, plots: bool = False) -> list[str]:
    """The command line writing a ``kind`` result folder to ``out``."""
    no_plots = [] if plots else ["--no-plots"]
    return {
        "run": ["run", str(inputs["tiny"]), *no_plots],
        "comparison": ["compare", str(inputs["tiny"]), "--variant", "fcfs:", "--variant",
                       "lottery:platform.allocation={rule: lottery, window: 5min}",
                       "--set", "horizon=2d", "--replications", "3", "--processes", "1",
                       *no_plots],
        "calibration": ["calibrate", str(inputs["calibrated"]), "--targets",
                        str(inputs["targets"]), "--processes", "1"],
        "sweep": ["sweep", str(inputs["sweep"]), "--executor", "inprocess", *no_plots],
        "sensitivity": ["sensitivity", str(inputs["sensitivity"]), "--executor", "inprocess",
                        *no_plots],
    }[kind] + ["--quiet", "--out", str(out)]


KINDS = ["run", "comparison", "calibration", "sweep", "sensitivity"]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry below ``folder`` with the bytes of each file (None for folders)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def foreign(folder: Path) -> dict[str, bytes | None]:
    """Make ``folder`` a web app of someone else's (with a manifest.json of its own)."""
    (folder / "src").mkdir(parents=True)
    (folder / "manifest.json").write_text('{"name": "pwa"}\n')
    (folder / "src" / "app.js").write_text("code\n")
    (folder / "index.html").write_text("<!DOCTYPE html><title>app</title>\n")
    return snapshot(folder)


@pytest.fixture
def nothing_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any simulation fails the test: a refused folder is refused before computing."""
    def computed(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a run was computed before the output folder was checked")

    for module in (sim, design):
        monkeypatch.setattr(module, "run", computed)


# --------------------------------------------------------------------------- the --out rule


@pytest.mark.parametrize("kind", KINDS)
def test_a_foreign_folder_is_refused_and_left_intact(
        kind: str, inputs: dict[str, Path], tmp_path: Path, capsys: Any,
        nothing_computed: None) -> None:
    webapp = tmp_path / "webapp"
    before = foreign(webapp)
    assert cli.main(command(kind, inputs, webapp)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(webapp) in err and "Traceback" not in err
    assert "written_by" in err  # says why: the manifest is not microwork's
    assert snapshot(webapp) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "webapp"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_microwork_folder_of_the_same_kind_is_replaced(
        kind: str, inputs: dict[str, Path], tmp_path: Path) -> None:
    """Written with plots and given a report.html, the folder is still microwork's own: the
    same command replaces it (here without plots)."""
    out = tmp_path / "out"
    assert cli.main(command(kind, inputs, out, plots=True)) == 0
    assert json.loads((out / "manifest.json").read_text())["written_by"] == "microwork"
    assert cli.main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()
    assert cli.main(command(kind, inputs, out)) == 0
    names = {p.name for p in out.iterdir()}
    assert "report.html" not in names and "manifest.json" in names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["written_by"] == "microwork" and manifest["kind"] == kind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_folder_is_used(kind: str, inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert cli.main(command(kind, inputs, out)) == 0
    assert json.loads((out / "manifest.json").read_text())["kind"] == kind


def test_other_kinds_old_results_and_stray_files_are_refused(
        inputs: dict[str, Path], tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "out"
    assert cli.main(command("run", inputs, out)) == 0
    manifest = out / "manifest.json"
    data = json.loads(manifest.read_text())
    # a microwork folder of another kind
    assert cli.main(command("sweep", inputs, out)) == 2
    assert "holds a microwork run result, not a sweep result" in capsys.readouterr().err
    # a file microwork does not write into a run folder
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert cli.main(command("run", inputs, out)) == 2
    assert "notes.txt" in capsys.readouterr().err and snapshot(out) == before
    (out / "notes.txt").unlink()
    # a result written before the marker existed: remove it by hand
    del data["written_by"]
    manifest.write_text(json.dumps(data))
    assert cli.main(command("run", inputs, out)) == 2
    assert "remove the folder by hand" in capsys.readouterr().err
    # a damaged manifest
    manifest.write_text('{"written_by": "micro')
    assert cli.main(command("run", inputs, out)) == 2
    err = capsys.readouterr().err
    assert f"{manifest}: it is not valid JSON" in err and "Traceback" not in err
    # a file where the folder should be
    (tmp_path / "afile").write_text("x")
    assert cli.main(command("run", inputs, tmp_path / "afile")) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("kind", KINDS)
def test_every_result_records_its_provenance(kind: str, inputs: dict[str, Path],
                                             tmp_path: Path) -> None:
    """Every manifest says which version of microwork wrote the folder: package version and
    git commit (``calibrate`` once recorded neither)."""
    out = tmp_path / "out"
    assert cli.main(command(kind, inputs, out)) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["package_version"] == sim.__version__ and "git_commit" in manifest


# --------------------------------------------------------------------------- API savers


@pytest.fixture(scope="module")
def results() -> dict[str, Callable[[Path], Path]]:
    """One result of each kind the API saves, and how it is saved."""
    run = sim.run(tiny(), seed=1)
    comparison = sim.compare(tiny(), {"fcfs": {}, "cap": {"platform.daily_cap": 3}},
                             replications=2, processes=1, progress=False)
    swept = sim.sweep(tiny(), {"platform.daily_cap": [3, None]}, replications=1,
                      executor="inprocess", progress=False)
    analysed = sim.sensitivity(tiny(), PROBLEM, "morris", n=2, outputs=["earnings_gini"],
                               executor="inprocess", progress=False)
    return {"run": run.save, "comparison": lambda out: save_comparison(comparison, out),
            "sweep": swept.save, "sensitivity": analysed.save}


@pytest.mark.parametrize("kind", ["run", "comparison", "sweep", "sensitivity"])
def test_api_savers_follow_the_same_rule(kind: str, results: dict[str, Callable[[Path], Path]],
                                         tmp_path: Path) -> None:
    save = results[kind]
    webapp = tmp_path / "webapp"
    before = foreign(webapp)
    with pytest.raises(StoreError, match="webapp"):
        save(webapp)
    assert snapshot(webapp) == before
    out = tmp_path / "out"
    out.mkdir()
    assert save(out) == out  # an empty folder is used
    first = json.loads((out / "manifest.json").read_text())
    assert first["written_by"] == "microwork" and first["kind"] == kind
    (out / "report.html").write_text(folders.REPORT_GENERATOR + ' 0.1.0">')
    assert save(out) == out  # its own folder is replaced
    assert "report.html" not in {p.name for p in out.iterdir()}
    other = "sweep" if kind != "sweep" else "run"
    with pytest.raises(StoreError, match=f"not a {other} result"):
        results[other](out)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not private, as the CLI's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "webapp"]


# --------------------------------------------------------------------------- state folders


@pytest.mark.parametrize("kind", ["comparison", "sweep", "sensitivity"])
def test_a_foreign_state_folder_is_refused_and_left_intact(
        kind: str, inputs: dict[str, Path], tmp_path: Path, capsys: Any,
        nothing_computed: None) -> None:
    """``<out>.partial`` is deleted once the results are written: a folder of that name that
    microwork did not write (even with a spec.json) is never used."""
    out = tmp_path / "out"
    state = tmp_path / "out.partial"
    state.mkdir()
    (state / "spec.json").write_text('{"project": "mine"}')
    (state / "notes.txt").write_text("keep me")
    before = snapshot(state)
    assert cli.main(command(kind, inputs, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "spec.json" in err and "remove it by hand" in err
    assert snapshot(state) == before and not out.exists()


@pytest.mark.parametrize("kind", ["comparison", "sweep"])
def test_a_state_folder_with_stray_files_is_refused(
        kind: str, inputs: dict[str, Path], tmp_path: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    real = design.run

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if interrupted.calls:  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        interrupted.calls += 1  # type: ignore[attr-defined]
        return real(*args, **kwargs)

    interrupted.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(design, "run", interrupted)
    assert cli.main(command(kind, inputs, out)) == cli.EXIT_INTERRUPTED
    state = tmp_path / "out.partial"
    spec = json.loads((state / "spec.json").read_text())
    assert spec["written_by"] == "microwork"
    (state / "runs" / "thesis.tex").write_text("years of work")
    before = snapshot(state)
    monkeypatch.setattr(design, "run", real)
    assert cli.main(command(kind, inputs, out)) == 2
    err = capsys.readouterr().err
    assert "thesis.tex" in err and "Traceback" not in err
    assert snapshot(state) == before


def test_stale_temporary_files_in_a_state_folder_are_removed(tmp_path: Path) -> None:
    """A run file half-written when its process was killed is ignored and cleaned up."""
    state = tmp_path / "state"
    variants = {"fcfs": {}, "cap": {"platform.daily_cap": 3}}
    first = sim.compare(tiny(), variants, replications=2, processes=1, progress=False,
                        state_dir=state)
    dead = 2**22 + 12345  # beyond the default pid_max: no such process
    name = dataset.run_file_name(0, 0)
    stale = state / "runs" / f".{name}.microwork-tmp-{dead}-{folders._host()}-abc123"
    stale.write_bytes(b"PAR1 half a run")
    again = sim.compare(tiny(), variants, replications=2, processes=1, progress=False,
                        state_dir=state)
    assert not stale.exists()
    assert again.stats["runs_resumed"] == 4 and again.stats["runs_computed"] == 0
    assert again.runs.equals(first.runs)


# --------------------------------------------------------------------------- the writer


def test_stale_staging_folders_are_removed_by_the_next_write(
        inputs: dict[str, Path], tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    host = folders._host()
    dead = results / f".old.microwork-staging-{2**22 + 7}-{host}-x1y2z3ab"
    dead.mkdir()
    (dead / "tasks.parquet").write_bytes(b"half")
    alive = results / f".new.microwork-staging-{os.getpid()}-{host}-x1y2z3ab"
    alive.mkdir()
    elsewhere = results / f".new.microwork-staging-{2**22 + 7}-otherhost-x1y2z3ab"
    elsewhere.mkdir()
    user = results / ".old.staging-mine"
    user.mkdir()
    assert cli.main(command("run", inputs, results / "run")) == 0
    assert sorted(p.name for p in results.iterdir()) == sorted(
        [alive.name, elsewhere.name, user.name, "run"])


def test_long_names_are_capped() -> None:
    long = "market " * 60
    name = folders.safe_name(long)
    assert len(name) <= folders.NAME_LIMIT + 11 and name.startswith("market_market")
    assert folders.safe_name(long + "x") != name  # distinct names stay distinct
    assert folders.safe_name("baseline") == "baseline"
    assert len(default_out(long, 3).name) < 120
