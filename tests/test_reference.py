"""The scenario reference (docs/scenario-reference.md) is generated from the schema and cannot
drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import allocation as rules
from sim.scenario import reference
from sim.scenario import schema as scenario
from sim.scenario.distributions import DIST_NAMES

DOC = Path(__file__).resolve().parents[1] / "docs" / "scenario-reference.md"


def test_committed_reference_is_up_to_date() -> None:
    assert DOC.read_text() == reference.render(), (
        "docs/scenario-reference.md is out of date: run `python -m sim.scenario.reference`")


def test_every_field_of_every_section_is_documented() -> None:
    text = reference.render()
    sections = list(reference.walk(scenario.Scenario))
    models = {s.model for s in sections}
    assert {scenario.Profile, scenario.Session, scenario.Discovery, scenario.TaskType,
            scenario.Requesters, scenario.Platform, scenario.CalibrationSpec,
            scenario.TargetSpec, scenario.FitStage, scenario.FitParameter} <= models
    for section in sections:
        for name, info in section.model.model_fields.items():
            path = f"{section.path}.{info.alias or name}" if section.path else name
            assert f"| `{path}` |" in text, path
    for name in DIST_NAMES:
        assert f"### `{name}`" in text
    for name, spec in rules.RULE_PARAMS.items():
        assert f"### `{name}`" in text
        for param in spec.params.model_fields:
            assert f"| `platform.allocation.{param}` |" in text


@pytest.mark.parametrize(("path", "cells"), [
    ("horizon", "duration | required | ≤ 3660d, > 0 |"),
    ("profiles.<profile>.share", "number | required | ≥ 0, ≤ 1 |"),
    ("profiles.<profile>.sessions[].start", "[duration distribution](#distributions) | required"),
    ("profiles.<profile>.discovery", "[Discovery](#discovery), or a list of them | required"),
    ("profiles.<profile>.speed", "[distribution](#distributions) | `1` | values > 0 |"),
    ("requesters.task_mix", "shares: names → numbers ≥ 0 | required | sum to 1 |"),
    ("platform.allocation", "[allocation rule](#allocation-rules) | `{rule: fcfs}` |"),
    ("platform.daily_cap", "whole number or null | none | ≥ 1, ≤ 1e+09 |"),
    ("engine", "one of `race`, `polling` | `race` |"),
    ("platform.allocation.window", "duration | `1min` | > 0 |"),
])
def test_rows_say_type_default_and_constraints(path: str, cells: str) -> None:
    rows = [line for line in reference.render().splitlines() if line.startswith(f"| `{path}` |")]
    assert rows and cells in rows[0], rows


def test_command_checks_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ref.md"
    assert reference.main(["--out", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert reference.main(["--out", str(out)]) == 0
    assert reference.main(["--out", str(out), "--check"]) == 0
    assert out.read_text() == reference.render()
