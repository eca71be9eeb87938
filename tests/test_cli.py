"""The ``microwork`` command, run in a subprocess and in-process through ``sim.cli.main``.

Checks the result folder (tables, summary, manifest, four plots), ``--set`` overrides,
``validate``, error reporting (``error: ...`` on stderr, exit status 2, no traceback) and that
a failed run leaves neither a half-written result folder nor a temporary folder behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib
import pytest
import yaml

import sim
from sim import cli
from sim.cli.output import default_out
from sim.cli.parser import parse_overrides
from sim.foundation.progress import HorizonProgress

RESULT_FILES = {"tasks.parquet", "workers.parquet", "sessions.parquet", "summary.json",
                "manifest.json"}
PLOT_FILES = {"lorenz.png", "monthly_earnings.png", "latency_cdf.png", "hourly_pay.png"}


def write_scenario(folder: Path, data: dict[str, Any], name: str = "small.yaml") -> Path:
    """Write a scenario dict as a YAML file and return its path."""
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sim.cli ARGS`` in ``cwd`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def hidden(folder: Path) -> list[str]:
    """Names of hidden entries (temporary staging folders start with a dot)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def scenario_file(tmp_path: Path, small_scenario: dict[str, Any]) -> Path:
    return write_scenario(tmp_path, small_scenario)


# --------------------------------------------------------------------------- run


def test_run_in_a_subprocess_writes_the_result_folder(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("run", scenario_file, "--seed", "3", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == RESULT_FILES | PLOT_FILES
    for png in PLOT_FILES:
        assert (out / png).read_bytes().startswith(b"\x89PNG")
    # the printed summary: headline metrics with units, then one row per profile
    for text in ("Fill rate", "Claim latency", "Gini", "EUR", "%", "Wrote", str(out)):
        assert text in proc.stdout
    for profile in ("employee", "student", "always_on"):
        assert profile in proc.stdout
    assert "Traceback" not in proc.stderr
    assert hidden(tmp_path) == []
    assert not (tmp_path / "results").exists()
    # the folder is a regular saved result
    result = sim.load_result(out)
    assert result.seed == 3
    assert result.scenario == sim.load_scenario(scenario_file)
    assert result.summary["workers"] == 60
    assert len(result.tasks) == result.summary["tasks_released"]


def test_run_default_folder_and_quiet(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(scenario_file), "--seed", "7", "--quiet", "--no-plots"]) == 0
    out = tmp_path / "results" / "small-seed7"
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    captured = capsys.readouterr()
    assert captured.out.strip() == str(Path("results") / "small-seed7")
    assert captured.err == ""
    assert hidden(tmp_path / "results") == []


def test_run_prints_summary_and_no_progress_bar_for_a_quick_run(
    scenario_file: Path, tmp_path: Path, capsys: Any
) -> None:
    assert cli.main(["run", str(scenario_file), "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # the bar only appears after 2 s
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert f"{summary['tasks_released']:,.0f}" in captured.out
    assert f"{100 * summary['fill_rate']:.1f}%" in captured.out
    assert "By profile" in captured.out
    assert matplotlib.get_backend().lower() == "agg"


def test_progress_bar(capsys: Any) -> None:
    progress = HorizonProgress("simulating test", delay=0, notebook=False)
    for fraction in (0.25, 0.5, 1.0):
        progress(fraction)
    progress.close()
    err = capsys.readouterr().err
    assert "simulating test" in err
    assert "100%" in err


def test_same_seed_same_summary(scenario_file: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            cli.main(
                ["run", str(scenario_file), "--quiet", "--no-plots", "--out", str(tmp_path / name)]
            )
            == 0
        )
    a, b = ((tmp_path / name / "summary.json").read_text() for name in ("a", "b"))
    assert a == b


def test_set_changes_the_run(scenario_file: Path, tmp_path: Path) -> None:
    base, changed = tmp_path / "base", tmp_path / "changed"
    assert cli.main(["run", str(scenario_file), "--quiet", "--no-plots", "--out", str(base)]) == 0
    args = ["--set", "horizon=1d", "--set", "workers=30", "--set", "task_types.search.expiry=null"]
    assert (
        cli.main(["run", str(scenario_file), "--quiet", "--no-plots", "--out", str(changed), *args])
        == 0
    )
    manifest = json.loads((changed / "manifest.json").read_text())
    assert manifest["scenario"]["horizon"] == 86400.0
    assert manifest["scenario"]["workers"] == 30
    assert manifest["scenario"]["task_types"]["search"]["expiry"] is None
    before = json.loads((base / "summary.json").read_text())
    after = json.loads((changed / "summary.json").read_text())
    assert after["workers"] == 30 and before["workers"] == 60
    assert after["tasks_released"] < before["tasks_released"]


def test_rerun_replaces_a_previous_result(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--quiet", "--out", str(out)]) == 0
    assert PLOT_FILES.issubset(p.name for p in out.iterdir())
    assert cli.main(["run", str(scenario_file), "--quiet", "--no-plots", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    assert hidden(tmp_path) == []


def test_refuses_to_replace_a_folder_that_is_not_a_result(
    scenario_file: Path, tmp_path: Path, capsys: Any
) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    assert cli.main(["run", str(scenario_file), "--out", str(precious)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "thesis" in err
    assert (precious / "chapter1.tex").read_text() == "years of work"
    assert hidden(tmp_path) == []


# --------------------------------------------------------------------------- validate


def test_validate_in_a_subprocess(scenario_file: Path, tmp_path: Path) -> None:
    proc = run_cli("validate", scenario_file, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # undo line wrapping
    for expected in (
        "is valid",
        "60 workers",
        "3d",
        "employee (50%",
        "always online",
        "3 task types",
        "200 batches",
        "'fcfs' rule",
        "20% commission",
    ):
        assert expected in text
    assert proc.stderr == ""
    assert list(tmp_path.iterdir()) == [scenario_file]  # validate writes nothing


def test_validate_with_set(scenario_file: Path, capsys: Any) -> None:
    assert (
        cli.main(
            [
                "validate",
                str(scenario_file),
                "--set",
                "workers=1234",
                "--set",
                "platform.daily_cap=5",
            ]
        )
        == 0
    )
    text = " ".join(capsys.readouterr().out.split())
    assert "1,234 workers" in text
    assert "5 tasks a day" in text
    assert "approximate shortcut" not in text  # scale 1: no note


def test_validate_says_scale_is_an_approximate_shortcut(scenario_file: Path, capsys: Any) -> None:
    """Below scale 1 the market is sampled: validate says what that keeps and what it does
    not (issue 12: scale is only an explicitly approximate shortcut)."""
    assert cli.main(["validate", str(scenario_file), "--set", "workers=1000",
                     "--set", "scale=0.25"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "scale 0.25 runs 250 of 1,000 workers: an approximate shortcut" in text
    assert "not the race" in text


def test_help(tmp_path: Path) -> None:
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "run" in proc.stdout and "validate" in proc.stdout
    assert cli.main(["run", "--help"]) == 0


# --------------------------------------------------------------------------- errors

BAD_SCENARIOS = [
    pytest.param({"horizn": "3d"}, "horizn", id="typo"),
    pytest.param(
        {"requesters": {"batches_per_day": -5}}, "requesters.batches_per_day", id="negative-rate"
    ),
    pytest.param(
        {"platform": {"allocation": {"rule": "lotery"}}}, "platform.allocation", id="unknown-rule"
    ),
    pytest.param({"horizon": "3 days"}, "horizon", id="bad-duration"),
    pytest.param(
        {"profiles": {"student": {"task_types": ["serch"]}}},
        "profiles.student.task_types",
        id="unknown-task-type",
    ),
    pytest.param({"profiles": {"employee": {"share": 0.9}}}, "profiles", id="shares"),
    pytest.param({"workers": 0}, "workers", id="no-workers"),
]


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` merged in recursively (a small way to write a bad scenario)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(("patch", "path"), BAD_SCENARIOS)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_scenario_file_exits_2(
    small_scenario: dict[str, Any],
    tmp_path: Path,
    capsys: Any,
    command: str,
    patch: dict[str, Any],
    path: str,
) -> None:
    scenario = write_scenario(tmp_path, _merge(small_scenario, patch), "bad.yaml")
    out = tmp_path / "out"
    argv = [command, str(scenario)] + (["--out", str(out)] if command == "run" else [])
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert path in captured.err and "bad.yaml" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize(("patch", "path"), BAD_SCENARIOS[:3])
def test_bad_scenario_file_in_a_subprocess(
    small_scenario: dict[str, Any], tmp_path: Path, patch: dict[str, Any], path: str
) -> None:
    scenario = write_scenario(tmp_path, _merge(small_scenario, patch), "bad.yaml")
    proc = run_cli("run", scenario, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert path in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "horizon"], "--set 'horizon'"),
        (["--set", "=3d"], "--set '=3d'"),
        (["--set", "horizon=[1"], "not valid YAML"),
        (["--set", "horizon=-2d"], "horizon"),
        (["--set", "profiles.nobody.share=1"], "profiles.nobody"),
        (["--set", "platform.comission=0.1"], "platform.comission"),
    ],
)
def test_bad_set_exits_2(
    scenario_file: Path, tmp_path: Path, capsys: Any, args: list[str], expected: str
) -> None:
    for command in ("run", "validate"):
        assert cli.main([command, str(scenario_file), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err
    assert not (tmp_path / "results").exists()


def test_missing_scenario_file(tmp_path: Path) -> None:
    proc = run_cli("run", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "nope.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fly"],
        ["run"],
        ["run", "x.yaml", "--seed", "-1"],
        ["run", "x.yaml", "--seed", "a"],
        ["run", "x.yaml", "--bogus"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: Any) -> None:
    assert cli.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_usage_error_in_a_subprocess(tmp_path: Path) -> None:
    proc = run_cli("run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- atomic output


def test_error_in_the_simulation_leaves_nothing(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_run(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("model bug")

    monkeypatch.setattr(sim, "run", broken_run)
    out = tmp_path / "results" / "out"
    with pytest.raises(RuntimeError, match="model bug"):  # a bug keeps its traceback
        cli.main(["run", str(scenario_file), "--out", str(out)])
    assert not out.exists()
    assert hidden(out.parent) == []


def test_scenario_error_during_the_run_exits_2_and_leaves_nothing(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def rejecting_run(*args: Any, **kwargs: Any) -> None:
        raise sim.ScenarioError("task_types.survey: rejected late")

    monkeypatch.setattr(sim, "run", rejecting_run)
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--out", str(out)]) == 2
    assert "error: task_types.survey: rejected late" in capsys.readouterr().err
    assert not out.exists()
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("plotting bug"), KeyboardInterrupt()])
def test_error_after_some_files_were_written_leaves_nothing(
    scenario_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    def broken_plots(tasks: Any, workers: Any, horizon: float, directory: Path, *a: Any) -> None:
        (Path(directory) / "lorenz.png").write_bytes(b"half a plot")
        raise error

    monkeypatch.setattr(sim.presentation.figures, "save_run_plots", broken_plots)
    out = tmp_path / "out"
    if isinstance(error, KeyboardInterrupt):
        assert cli.main(["run", str(scenario_file), "--out", str(out)]) == 130
    else:
        with pytest.raises(RuntimeError):
            cli.main(["run", str(scenario_file), "--out", str(out)])
    assert not out.exists()
    assert hidden(tmp_path) == []


def test_failure_keeps_the_previous_result(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--quiet", "--no-plots", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_write(self: Any, folder: Path) -> None:
        (folder / "tasks.parquet").write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim.RunResult, "write_into", broken_write)
    assert cli.main(["run", str(scenario_file), "--seed", "9", "--out", str(out)]) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert hidden(tmp_path) == []


def test_invalid_out_parent(scenario_file: Path, tmp_path: Path, capsys: Any) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    out = blocker / "run"
    assert cli.main(["run", str(scenario_file), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write results") and "afile" in err
    assert "Traceback" not in err
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "small.yaml"]


def test_invalid_out_in_a_subprocess(scenario_file: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = run_cli("run", scenario_file, "--out", "afile/run", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "small.yaml"]


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (None, {}),
        (["horizon=7d"], {"horizon": "7d"}),
        (["workers=30", "platform.commission=0.25"], {"workers": 30, "platform.commission": 0.25}),
        (["task_types.search.expiry=null"], {"task_types.search.expiry": None}),
        (["task_types.search.expiry="], {"task_types.search.expiry": None}),
        (["profiles.a.sessions.0.days=[sat, sun]"], {"profiles.a.sessions.0.days": ["sat", "sun"]}),
        (["description=a=b"], {"description": "a=b"}),
        (["workers=1", "workers=2"], {"workers": 2}),
    ],
)
def test_parse_overrides(items: list[str] | None, expected: dict[str, Any]) -> None:
    assert parse_overrides(items) == expected


def test_default_out_is_a_safe_name() -> None:
    assert default_out("baseline", 1) == Path("results/baseline-seed1")
    assert default_out("my market/2024 v2", 0) == Path("results/my_market_2024_v2-seed0")
    assert default_out("..", 3) == Path("results/scenario-seed3")


def test_a_very_long_scenario_name_gives_a_usable_folder(
    small_scenario: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Default folder names are capped (with a hash of the full name), never too long for the
    file system."""
    small_scenario["name"] = "a market with a very long name " * 20
    path = write_scenario(tmp_path, small_scenario)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(path), "--quiet", "--no-plots", "--set", "horizon=1d"]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out.parent == Path("results") and len(out.name) < 100
    assert out.name.startswith("a_market_with_a_very_long_name") and out.is_dir()


KILLED_RUN = """
import sys, time
import sim
from sim import cli

def slow(*args, **kwargs):
    time.sleep(60)  # killed long before

sim.run = slow
cli.main(["run", sys.argv[1], "--out", sys.argv[2]])
"""


def test_a_killed_run_leaves_a_staging_folder_that_the_next_write_removes(
    scenario_file: Path, tmp_path: Path
) -> None:
    """SIGKILL during the run: the staging folder is left behind, hidden and named after the
    result, the process and the host; the next write into the same folder removes it."""
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(scenario_file),
                             str(results / "out")], cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (results.is_dir() and hidden(results)):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (left,) = hidden(results)
    assert left.startswith(f".out.microwork-staging-{proc.pid}-")
    assert cli.main(["run", str(scenario_file), "--quiet", "--no-plots",
                     "--out", str(results / "other")]) == 0
    assert sorted(p.name for p in results.iterdir()) == ["other"]


def test_validate_describes_the_allocation_parameters(scenario_file: Path, capsys: Any) -> None:
    rule = "platform.allocation={rule: lottery, window: 5min}"
    assert cli.main(["validate", str(scenario_file), "--set", rule]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "'lottery' rule" in text and "window = 5min" in text


def test_result_folder_has_ordinary_permissions(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--quiet", "--no-plots", "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
