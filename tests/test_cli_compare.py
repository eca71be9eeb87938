"""``microwork compare``: paired replications of scenario variants from the shell.

Runs a tiny scenario (2 days, 60 workers) in-process through ``sim.cli.main`` and once in a
subprocess; checks the result folder, the printed table, comparison specs, ``--variant``
parsing, error reporting (``error: ...``, exit 2, no traceback) and that an interrupted
comparison resumes from ``<out>.partial`` computing only the missing runs.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import SMALL_SCENARIO

from sim import cli
from sim.cli.parser import DEFAULT_COMPARE_SEED, parse_variant
from sim.experiments import compare as experiment
from sim.experiments import design
from sim.foundation.errors import UsageError
from sim.results import dataset

DATA_FILES = {
    "runs.parquet",
    "table.csv",
    "paired.csv",
    "manifest.json",
    "earnings_replication0.parquet",
}
PLOT_FILES = {"metric_intervals.png", "lorenz_overlay.png", "tradeoff.png", "profile_earnings.png",
              "winners_losers.png"}
LOTTERY = "lottery:platform.allocation={rule: lottery, window: 5min}"
CAP = "cap:platform.daily_cap=3"
VARIANT_ARGS = ["--variant", "fcfs:", "--variant", LOTTERY, "--variant", CAP]
VARIANTS = {
    "fcfs": {},
    "lottery": {"platform.allocation": {"rule": "lottery", "window": "5min"}},
    "cap": {"platform.daily_cap": 3},
}
SPEC = {
    "scenario": "scenarios/small.yaml",
    "baseline": "fcfs",
    "replications": 3,
    "seed": 4,
    "variants": VARIANTS,
}


def tiny() -> dict[str, Any]:
    scenario = copy.deepcopy(SMALL_SCENARIO)
    scenario["horizon"] = "2d"
    return scenario


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(tiny(), sort_keys=False))
    return path


@pytest.fixture
def spec_file(tmp_path: Path, scenario_file: Path) -> Path:
    path = tmp_path / "policy.yaml"  # the scenario path inside is relative to this file
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return path


def compare_args(scenario: Path, out: Path, *extra: str, reps: int = 3) -> list[str]:
    return [
        "compare",
        str(scenario),
        *VARIANT_ARGS,
        "--replications",
        str(reps),
        "--processes",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def run_files(state: Path) -> list[str]:
    return sorted(p.name for p in (state / "runs").glob("*.parquet"))


# --------------------------------------------------------------------------- results


def test_compare_writes_the_folder_and_prints_the_table(
    scenario_file: Path, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    assert cli.main(compare_args(scenario_file, out, "--seed", "4")) == 0
    captured = capsys.readouterr()
    assert entries(out) == DATA_FILES | PLOT_FILES
    assert entries(tmp_path) == {"scenarios", "out"}  # no .partial, no staging folder left
    for png in PLOT_FILES:
        assert (out / png).read_bytes().startswith(b"\x89PNG")

    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 9 and set(runs["variant"]) == set(VARIANTS)
    # replication r has the same seed in every variant (paired)
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()
    table = pd.read_csv(out / "table.csv")
    assert {"variant", "metric", "mean", "ci_low", "ci_high"} <= set(table.columns)
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired["variant"]) == {"lottery", "cap"} and set(paired["baseline"]) == {"fcfs"}
    earnings = pd.read_parquet(out / "earnings_replication0.parquet")
    assert list(earnings.columns) == list(VARIANTS) and len(earnings) == 60

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["replications"] == 3
    assert manifest["processes"] == 1 and manifest["baseline"] == "fcfs"
    assert manifest["variants"] == VARIANTS and manifest["spec"]["variants"] == VARIANTS
    assert manifest["spec"]["scenario"] == str(scenario_file.resolve())
    assert manifest["scenario"]["horizon"] == 2 * 86_400.0
    assert manifest["wall_time"] > 0 and "git_commit" in manifest
    assert manifest["package_version"] == "0.1.0"
    assert manifest["runs_computed"] == 9 and manifest["runs_resumed"] == 0

    # the same numbers as the Python API
    direct = experiment.compare(
        tiny(), VARIANTS, replications=3, seed=4, processes=1, progress=False
    )
    pd.testing.assert_frame_equal(runs, direct.runs)

    text = captured.out
    for expected in (
        "Earnings Gini",
        "Claim latency, mean",
        "Monthly earnings, mean (EUR)",
        "Fill rate",
        "Unpaid minutes per paid hour",
        "Earnings share of always_on",
        "Earnings share of student",
        "Diff. to fcfs",
        "95% interval",
        "pp",
        "9 runs computed",
        "Wrote",
    ):
        assert expected in text, expected
    # the mean Gini of the lottery and its paired difference, as formatted in the table
    gini = direct.table(["earnings_gini"]).set_index("variant")
    diff = direct.paired(metrics=["earnings_gini"]).set_index("variant")
    lottery_row = next(
        line
        for line in text.splitlines()
        if line.split()[:1] == ["lottery"] and f"{gini.loc['lottery', 'mean']:.3g}" in line
    )
    assert f"{diff.loc['lottery', 'mean_diff']:.3g}" in lottery_row
    # the daily cap of 3 tasks changes the Gini beyond doubt: marked significant
    cap_rows = [line for line in text.splitlines() if line.split()[:1] == ["cap"]]
    assert cap_rows[0].rstrip().endswith("*")
    assert "Traceback" not in captured.err


def test_quiet_no_plots_and_default_folder(
    scenario_file: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [
        "compare",
        str(scenario_file),
        "--variant",
        "fcfs:",
        "--variant",
        CAP,
        "--replications",
        "2",
        "--processes",
        "1",
        "--quiet",
        "--no-plots",
    ]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    out = Path("results") / "small-compare"
    assert captured.out.strip() == str(out)
    assert captured.err == ""
    assert entries(tmp_path / out) == DATA_FILES
    assert entries(tmp_path / "results") == {"small-compare"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == DEFAULT_COMPARE_SEED and manifest["baseline"] == "fcfs"


def test_spec_file_in_a_subprocess_with_two_processes(spec_file: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "compare", spec_file.name, "--processes", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = tmp_path / "results" / "policy-compare"  # named after the spec file
    assert entries(out) == DATA_FILES | PLOT_FILES
    assert entries(tmp_path / "results") == {"policy-compare"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["replications"] == 3
    assert manifest["processes"] == 2 and manifest["variants"] == VARIANTS
    assert manifest["source"] == str(spec_file.resolve())
    assert "policy (scenario 'small')" in proc.stdout and "Diff. to fcfs" in proc.stdout
    # the same runs as one process with the spec's seed
    direct = experiment.compare(
        tiny(), VARIANTS, replications=3, seed=4, processes=1, progress=False
    )
    runs = pd.read_parquet(out / "runs.parquet")
    key = ["variant", "replication"]
    pd.testing.assert_frame_equal(
        runs.sort_values(key).reset_index(drop=True),
        direct.runs.sort_values(key).reset_index(drop=True),
    )


def test_spec_target_adds_replications(spec_file: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(spec_file.read_text())
    spec["replications"] = 2
    spec["target"] = {"metric": "earnings_gini", "half_width": 1e-9, "max_replications": 4}
    spec_file.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert (
        cli.main(["compare", str(spec_file), "--processes", "1", "--quiet", "--out", str(out)]) == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == 4  # the target is out of reach: up to the maximum
    assert manifest["spec"]["replications"] == 2 and manifest["spec"]["target"] == spec["target"]


def test_options_override_the_spec(spec_file: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "out"
    argv = [
        "compare",
        str(spec_file),
        "--replications",
        "2",
        "--seed",
        "9",
        "--baseline",
        "lottery",
        "--variant",
        "cap:platform.daily_cap=5",
        "--variant",
        "rr:platform.allocation.rule=round_robin,platform.allocation.window=5min",
        "--processes",
        "1",
        "--out",
        str(out),
        "--no-plots",
    ]
    assert cli.main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 9 and manifest["replications"] == 2
    assert manifest["baseline"] == "lottery"
    assert list(manifest["variants"]) == ["fcfs", "lottery", "cap", "rr"]
    assert manifest["variants"]["cap"] == {"platform.daily_cap": 5}  # replaced
    assert manifest["variants"]["rr"] == {
        "platform.allocation.rule": "round_robin",
        "platform.allocation.window": "5min",
    }
    assert set(pd.read_csv(out / "paired.csv")["baseline"]) == {"lottery"}
    assert "Diff. to lottery" in capsys.readouterr().out


# --------------------------------------------------------------------------- --variant syntax


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("fcfs:", ("fcfs", {})),
        ("base:  ", ("base", {})),
        ("cap:platform.daily_cap=100", ("cap", {"platform.daily_cap": 100})),
        (
            "l:platform.allocation.rule=lottery, platform.allocation.window=5min",
            ("l", {"platform.allocation.rule": "lottery", "platform.allocation.window": "5min"}),
        ),
        (
            "l:platform.allocation={rule: lottery, window: 5min}",
            ("l", {"platform.allocation": {"rule": "lottery", "window": "5min"}}),
        ),
        (
            "x:profiles.student.task_types=[survey, search],workers=30",
            ("x", {"profiles.student.task_types": ["survey", "search"], "workers": 30}),
        ),
        (
            "d:description=\"a, b\",name='it''s, ok'",
            ("d", {"description": "a, b", "name": "it's, ok"}),
        ),
        ("e:description=it's fine", ("e", {"description": "it's fine"})),
        (
            "n:platform.daily_cap=null,platform.commission=0.1",
            ("n", {"platform.daily_cap": None, "platform.commission": 0.1}),
        ),
        ("v1.2_a+b-c:horizon=1d", ("v1.2_a+b-c", {"horizon": "1d"})),
    ],
)
def test_parse_variant(item: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert parse_variant(item) == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("fcfs", "expected NAME:PATH=VALUE"),
        (":horizon=1d", "the name ''"),
        ("a/b:horizon=1d", "the name 'a/b'"),
        ("-x:", "the name '-x'"),
        ("a:horizon", "expected PATH=VALUE"),
        ("a:=1d", "expected PATH=VALUE"),
        ("a:horizon=1d,", "empty override"),
        ("a:workers=[1, 2", "brackets or braces do not match"),
        ('a:name="x, y', "quoted string is not closed"),
        ("a:workers=1,workers=2", "'workers' is given twice"),
        ("a:workers=: x", "not valid YAML"),
    ],
)
def test_parse_variant_errors(item: str, message: str) -> None:
    with pytest.raises(UsageError, match="--variant") as err:
        parse_variant(item)
    assert message in str(err.value)


# --------------------------------------------------------------------------- errors

ERRORS = [
    pytest.param([], "at least one --variant", id="scenario-without-variants"),
    pytest.param(["--variant", "fcfs"], "expected NAME:PATH=VALUE", id="variant-syntax"),
    pytest.param(["--variant", "a:b:c"], "expected PATH=VALUE", id="variant-no-assignment"),
    pytest.param(["--variant", "a:", "--variant", "a:workers=3"], "given twice", id="twice"),
    pytest.param(["--variant", "a:", "--baseline", "b"], "--baseline 'b'", id="baseline"),
    pytest.param(["--variant", "a:platform.nope.x=1"], "variant 'a' (--variant)", id="bad-path"),
    pytest.param(
        ["--variant", "a:platform.allocation.rule=lotery"], "platform.allocation", id="bad-rule"
    ),
    pytest.param(["--variant", "a:", "--replications", "1"], "--replications", id="reps"),
    pytest.param(["--variant", "a:", "--processes", "0"], "--processes", id="processes"),
]


@pytest.mark.parametrize(("extra", "message"), ERRORS)
def test_errors_exit_2_and_leave_nothing(
    scenario_file: Path, tmp_path: Path, capsys: Any, extra: list[str], message: str
) -> None:
    argv = [
        "compare",
        str(scenario_file),
        "--processes",
        "1",
        "--out",
        str(tmp_path / "out"),
        *extra,
    ]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert entries(tmp_path) == {"scenarios"}
    argparse_error = captured.err.startswith("usage:")  # --replications 1, --processes 0
    assert captured.err.startswith("error: ") or (argparse_error and "error:" in captured.err)


SPEC_ERRORS = [
    pytest.param({"baseline": "nobody"}, "baseline 'nobody'", id="unknown-baseline"),
    pytest.param({"scenario": "missing.yaml"}, "missing.yaml", id="missing-scenario"),
    pytest.param({"scenario": None}, "scenario: expected", id="no-scenario"),
    pytest.param({"replications": 1}, "replications", id="replications"),
    pytest.param({"seed": -1}, "seed", id="seed"),
    pytest.param({"varients": {}}, "varients: unknown key; allowed: scenario, overrides,",
                 id="typo"),
    pytest.param({"variants": []}, "variants: expected a mapping", id="variants-list"),
    pytest.param({"variants": {"a b": {}}}, "the name 'a b'", id="variant-name"),
    pytest.param({"variants": {"a": [1]}}, "variants.a", id="variant-overrides"),
    pytest.param(
        {"variants": {"fcfs": {}, "b": {"horizon": "3 days"}}},
        "variant 'b' (",
        id="bad-override",
    ),
    pytest.param({"target": {"metric": "earnings_gini"}}, "target", id="target"),
    pytest.param(
        {"target": {"metric": "gini", "half_width": 0.1}}, "target.metric: 'gini'", id="metric"
    ),
]


@pytest.mark.parametrize(("patch", "message"), SPEC_ERRORS)
def test_bad_spec_exits_2(
    scenario_file: Path, tmp_path: Path, capsys: Any, patch: dict[str, Any], message: str
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, **patch}))
    assert cli.main(["compare", str(spec), "--processes", "1", "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert entries(tmp_path) == {"scenarios", "bad.yaml"}


def test_error_in_a_subprocess(scenario_file: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "compare", str(scenario_file), "--variant", "x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --variant 'x'")
    assert "Traceback" not in proc.stderr


def test_refuses_folders_that_are_not_results_or_state(
    scenario_file: Path, tmp_path: Path, capsys: Any
) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    assert cli.main(compare_args(scenario_file, precious)) == 2
    assert "thesis" in capsys.readouterr().err
    # <out>.partial is deleted after success: it must hold a comparison's state, nothing else
    notes = tmp_path / "out.partial"
    notes.mkdir()
    (notes / "notes.txt").write_text("keep me")
    assert cli.main(compare_args(scenario_file, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "out.partial" in err
    assert (notes / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- resume


def test_interrupted_comparison_resumes(
    scenario_file: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = design.run_point
    calls: list[tuple[int, int]] = []
    stop_after = 4

    def interrupted(scn: Any, point: int, replication: int, seed: int,
                    *rest: Any) -> dict[str, Any]:
        if len(calls) == stop_after:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the 5th run
        calls.append((point, replication))
        return real(scn, point, replication, seed, *rest)

    out = tmp_path / "out"
    state = tmp_path / "out.partial"
    monkeypatch.setattr(design, "run_point", interrupted)
    assert cli.main(compare_args(scenario_file, out)) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "4 finished runs" in err and "out.partial" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert entries(tmp_path) == {"scenarios", "out.partial"}
    assert len(run_files(state)) == stop_after
    assert (state / "spec.json").is_file()

    calls.clear()
    monkeypatch.setattr(design, "run_point", lambda *a: calls.append(a[1:3]) or real(*a))
    assert cli.main(compare_args(scenario_file, out)) == 0
    captured = capsys.readouterr()
    assert len(calls) == 9 - stop_after  # only the missing runs
    assert f"{9 - stop_after} runs computed" in captured.out
    assert f"{stop_after} resumed" in captured.out
    assert entries(tmp_path) == {"scenarios", "out"}  # the state folder is gone
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs_resumed"] == stop_after
    assert manifest["runs_computed"] == 9 - stop_after

    # the same tables as an uninterrupted comparison
    monkeypatch.setattr(design, "run_point", real)
    fresh = tmp_path / "fresh"
    assert cli.main(compare_args(scenario_file, fresh)) == 0
    for name in ("runs.parquet", "earnings_replication0.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(fresh / name))
    for name in ("table.csv", "paired.csv"):
        assert (out / name).read_text() == (fresh / name).read_text()


def test_interrupted_before_any_run_keeps_nothing(
    scenario_file: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(design, "run_point", interrupt)
    assert cli.main(compare_args(scenario_file, tmp_path / "out")) == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert entries(tmp_path) == {"scenarios"}


def test_state_of_another_comparison_is_refused(
    scenario_file: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = design.run_point
    done: list[int] = []

    def one_run_then_stop(*args: Any) -> dict[str, Any]:
        if done:
            raise KeyboardInterrupt
        done.append(1)
        return real(*args)

    out, state = tmp_path / "out", tmp_path / "out.partial"
    monkeypatch.setattr(design, "run_point", one_run_then_stop)
    assert cli.main(compare_args(scenario_file, out)) == cli.EXIT_INTERRUPTED
    assert len(run_files(state)) == 1
    capsys.readouterr()
    # another seed into the same output folder: refused, the state is kept for its own command
    assert cli.main(compare_args(scenario_file, out, "--seed", "99")) == 2
    err = capsys.readouterr().err
    assert err.startswith("resuming from") and "1 finished runs found" in err
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and "different" in last and "Traceback" not in err
    assert len(run_files(state)) == 1
    assert not out.exists()


def test_a_single_variant_gives_intervals_only(
    scenario_file: Path, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    argv = ["compare", str(scenario_file), "--variant", "as_is:", "--replications", "2"]
    assert cli.main([*argv, "--processes", "1", "--out", str(out), "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "Earnings Gini" in text and "95% interval" in text and "Diff." not in text
    assert len(pd.read_parquet(out / "runs.parquet")) == 2


# --------------------------------------------------------------------------- damaged state


def interrupt_after(monkeypatch: pytest.MonkeyPatch, runs: int) -> None:
    """Let ``runs`` runs finish, then Ctrl-C."""
    real = design.run_point
    done: list[int] = []

    def one_run(*args: Any) -> dict[str, Any]:
        if len(done) == runs:
            raise KeyboardInterrupt
        done.append(1)
        return real(*args)

    monkeypatch.setattr(design, "run_point", one_run)


def test_a_damaged_run_file_is_an_error_until_repaired(
    scenario_file: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated run file in <out>.partial: error naming it and --repair, before anything is
    computed; with --repair it is deleted and only that run is computed again."""
    real = design.run_point
    out, state = tmp_path / "out", tmp_path / "out.partial"
    interrupt_after(monkeypatch, 4)
    assert cli.main(compare_args(scenario_file, out)) == cli.EXIT_INTERRUPTED
    victim = state / "runs" / run_files(state)[1]
    victim.write_bytes(victim.read_bytes()[:40])  # truncated, as by a full disk
    capsys.readouterr()

    calls: list[Any] = []
    monkeypatch.setattr(design, "run_point", lambda *a: calls.append(a[1:3]) or real(*a))
    assert cli.main(compare_args(scenario_file, out)) == 2
    err = capsys.readouterr().err
    assert f"error: {victim} is damaged" in err and "--repair" in err
    assert "Traceback" not in err and calls == [] and victim.exists()

    assert cli.main(compare_args(scenario_file, out, "--repair")) == 0
    assert len(calls) == 9 - 3  # the 5 missing runs and the damaged one
    assert "3 resumed" in capsys.readouterr().out
    assert entries(tmp_path) == {"scenarios", "out"}
    fresh = experiment.compare(tiny(), VARIANTS, replications=3, seed=1, processes=1,
                               progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), fresh.runs)


def test_resumed_runs_are_counted_whatever_the_variant_names(
    scenario_file: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variant names with any characters ('+', '.'): the runs are counted by the store (files
    named by point and replication), the names kept in its points.json."""
    argv = ["compare", str(scenario_file), "--variant", "a+b:", "--variant", "c.d-e:workers=30",
            "--replications", "2", "--processes", "1", "--no-plots", "--out",
            str(tmp_path / "out")]
    interrupt_after(monkeypatch, 3)
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    state = tmp_path / "out.partial"
    assert run_files(state) == [dataset.run_file_name(p, r) for p, r in [(0, 0), (0, 1), (1, 0)]]
    assert dataset.load_points(state)["variant"].tolist() == ["a+b", "c.d-e"]
    monkeypatch.undo()
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "1 runs computed" in text and "3 resumed" in text
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["runs_resumed"] == 3 and manifest["runs_computed"] == 1


def quick_compare(source: Path, out: Path, *sets: str) -> dict[str, Any]:
    """Run ``microwork compare`` on ``source`` with 2 replications, one process, no plots and
    ``--set`` for each of ``sets``; return the manifest it wrote."""
    argv = ["compare", str(source), *(arg for item in sets for arg in ("--set", item)),
            "--replications", "2", "--processes", "1", "--no-plots", "--quiet",
            "--out", str(out)]
    assert cli.main(argv) == 0
    return json.loads((out / "manifest.json").read_text())


def test_set_overrides_the_scenario_before_the_variants(
    spec_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    manifest = quick_compare(spec_file, out, "workers=30", "platform.daily_cap=7")
    assert manifest["scenario"]["workers"] == 30
    assert manifest["scenario"]["platform"]["daily_cap"] == 7
    runs = pd.read_parquet(out / "runs.parquet").set_index("variant")
    assert (runs["workers"] == 30).all()
    # the variant's own override wins over --set
    direct = experiment.compare(
        {**tiny(), "workers": 30, "platform": {**tiny()["platform"], "daily_cap": 7}},
        VARIANTS, replications=2, seed=4, processes=1, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), direct.runs)


def test_bad_set_exits_2(scenario_file: Path, tmp_path: Path, capsys: Any) -> None:
    argv = ["compare", str(scenario_file), "--variant", "a:", "--set", "workers",
            "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    assert "--set 'workers': expected PATH=VALUE" in capsys.readouterr().err
    assert entries(tmp_path) == {"scenarios"}


def test_an_older_versions_state_is_refused_with_the_reason(
    scenario_file: Path, tmp_path: Path, capsys: Any
) -> None:
    """<out>.partial of a comparison interrupted before issue 10 (one JSON file per run): not
    resumed, kept, and the error says why and what to do."""
    state = tmp_path / "out.partial"
    (state / "runs").mkdir(parents=True)
    (state / "spec.json").write_text(json.dumps(
        {"written_by": "microwork", "kind": "comparison", "spec": {"seed": 1}}))
    (state / "runs" / "fcfs-00000.json").write_text('{"row": {}, "earnings": []}')
    assert cli.main(compare_args(scenario_file, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {state} holds the runs of a comparison interrupted under an "
                          "older version of microwork")
    assert "remove the folder" in err and (state / "runs" / "fcfs-00000.json").exists()
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- shipped specs

LABOUR_SUPPLY = Path(__file__).resolve().parents[1] / "scenarios" / "labour_supply.yaml"


def test_labour_supply_spec_runs_both_supplies_each_against_its_own_baseline(
    tmp_path: Path,
) -> None:
    """scenarios/labour_supply.yaml (a year, supply fixed and adaptive) at a reduced size:
    every rule runs with both supplies on the same seeds, and each is paired with fcfs of the
    same supply."""
    spec = experiment.load_comparison_spec(LABOUR_SUPPLY)
    assert spec.scenario.horizon == 365 * 86_400.0 and spec.supply == "both"
    assert spec.baseline == "fcfs" and list(spec.variants) == [
        "fcfs", "lottery", "round_robin", "least_earned"]

    out = tmp_path / "out"
    manifest = quick_compare(LABOUR_SUPPLY, out, "horizon=60d", "scale=0.1")
    assert manifest["scenario"]["horizon"] == 60 * 86_400.0  # --set wins over the overrides
    assert manifest["spec"]["supply"] == "both" and manifest["replications"] == 2

    modes = ("fixed", "adaptive")
    names = [f"{rule} ({mode})" for mode in modes for rule in spec.variants]
    runs = pd.read_parquet(out / "runs.parquet")
    assert sorted(runs["variant"].unique()) == sorted(names)
    assert len(runs) == 2 * len(names)
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()  # paired across all
    by_mode = {mode: runs[runs["variant"].str.endswith(f"({mode})")] for mode in modes}
    # turnover exists only where workers can leave
    assert by_mode["fixed"]["monthly_exit_rate"].isna().all()
    assert by_mode["adaptive"]["monthly_exit_rate"].notna().all()
    assert (by_mode["adaptive"]["workers_left"] > 0).all()

    paired = pd.read_csv(out / "paired.csv")
    pairs = set(zip(paired["variant"], paired["baseline"], strict=True))
    assert pairs == {(f"{rule} ({mode})", f"fcfs ({mode})")
                     for mode in modes for rule in spec.variants if rule != "fcfs"}
    gini = paired[paired["metric"] == "earnings_gini"]
    assert len(gini) == 6 and (gini["n"] == 2).all() and gini["mean_diff"].notna().all()
    # every variant is paired on the same metrics, turnover included for the adaptive ones
    metrics = paired.groupby("variant")["metric"].apply(frozenset)
    assert metrics.nunique() == 1
    assert "monthly_exit_rate" in metrics.iloc[0]
    exits = paired[paired["metric"] == "monthly_exit_rate"].set_index("variant")
    assert exits.loc[exits.index.str.endswith("(adaptive)"), "n"].eq(2).all()
    assert exits.loc[exits.index.str.endswith("(fixed)"), "n"].eq(0).all()  # nobody leaves
