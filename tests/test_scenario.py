"""Scenario loading, defaults, durations, overrides, immutability and error messages.

Every class of bad input must raise :class:`sim.ScenarioError` naming the field path, the bad
value and what is allowed, so a typo or a slip is never silently accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import sim
from sim.foundation.units import format_duration, parse_duration
from sim.scenario.loading import validate

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

# --------------------------------------------------------------------------- loading


def test_load_from_dict(small_scenario: dict[str, Any]) -> None:
    scn = sim.load_scenario(small_scenario)
    assert isinstance(scn, sim.Scenario)
    assert scn.name == "small"
    assert scn.workers == 60
    assert list(scn.profiles) == ["employee", "student", "always_on"]
    assert list(scn.task_types) == ["survey", "search", "shelf_photo"]
    assert scn.task_types["shelf_photo"].regional


def test_load_does_not_modify_the_input(small_scenario: dict[str, Any]) -> None:
    before = yaml.safe_dump(small_scenario)
    sim.load_scenario(small_scenario)
    assert yaml.safe_dump(small_scenario) == before


def test_load_from_yaml_file(small_scenario: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario, sort_keys=False))
    from_file = sim.load_scenario(path)
    assert from_file == sim.load_scenario(small_scenario)
    assert sim.load_scenario(str(path)) == from_file


def test_to_dict_round_trips(small_scenario: dict[str, Any]) -> None:
    scn = sim.load_scenario(small_scenario)
    again = sim.load_scenario(scn.to_dict())
    assert again == scn
    assert sim.load_scenario(scn) is scn


def test_yaml_file_errors_name_the_file(small_scenario: dict[str, Any], tmp_path: Path) -> None:
    small_scenario["horizn"] = "3d"
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(small_scenario))
    with pytest.raises(sim.ScenarioError, match=r"typo\.yaml") as err:
        sim.load_scenario(path)
    assert "horizn" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("workers: [1, 2\n", "not valid YAML"),
        ("- a list\n- not a mapping\n", "mapping"),
    ],
)
def test_bad_yaml_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(sim.ScenarioError, match=expected):
        sim.load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(sim.ScenarioError, match="cannot read") as err:
        sim.load_scenario(missing)
    assert "nope.yaml" in str(err.value)


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("5min", 300.0),
        ("2h", 7200.0),
        ("30d", 30 * 86400.0),
        ("1.5h", 5400.0),
        (" 10 min ", 600.0),
        ("1w", 7 * 86400.0),
        (45, 45.0),
        (2.5, 2.5),
        ("120", 120.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["3 days", "5mins", "h", "2x", "", True, None, [1]])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_durations_with_units_in_a_scenario(small_scenario: dict[str, Any]) -> None:
    small_scenario["horizon"] = "30d"
    scn = sim.load_scenario(small_scenario)
    assert scn.horizon == 30 * 86400.0
    survey = scn.task_types["survey"]
    assert survey.effort.dist == "constant"
    assert survey.effort.mean() == 300.0  # "5min"
    assert survey.expiry == 86400.0  # "1d"
    assert scn.task_types["search"].effort.mean() == 90.0  # "90s"
    session = scn.profiles["employee"].sessions[0]
    assert (session.start.low, session.start.high) == (18 * 3600.0, 20 * 3600.0)
    assert session.duration.median == 3600.0  # lognormal median "1h"


def test_format_duration() -> None:
    assert format_duration(90) == "1.5min"
    assert format_duration(7200) == "2h"
    assert format_duration(3 * 86400) == "3d"
    assert format_duration(0.5) == "0.5s"


# --------------------------------------------------------------------------- defaults


def test_defaults(small_scenario: dict[str, Any]) -> None:
    for key in ("currency", "description", "platform"):
        small_scenario.pop(key)
    small_scenario["name"] = "defaults"
    scn = sim.load_scenario(small_scenario)
    assert scn.currency == "EUR"
    assert scn.description == ""
    assert scn.engine == "race"
    assert scn.platform.allocation.rule == "fcfs"
    assert scn.platform.commission == 0.0
    assert scn.platform.daily_cap is None
    assert scn.platform.max_claimed == 1
    assert scn.platform.payout_threshold == 0.0
    assert scn.requesters.hour_of_day == (1.0,) * 24
    assert scn.requesters.day_of_week == (1.0,) * 7
    student = scn.profiles["student"]
    assert student.sessions[0].days == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert student.speed.mean() == 1.0
    assert student.rejection_probability.mean() == 0.0
    assert student.reservation_pay.mean() == 0.0
    assert not student.always_online
    (script,) = scn.profiles["always_on"].discovery
    assert script.mode == "script"
    assert script.interval.mean() == 5.0
    assert scn.task_types["search"].batch_size.mean() == 1.0
    assert scn.task_types["search"].expiry == 6 * 3600.0
    assert scn.task_types["survey"].travel is None


def test_script_interval_defaults_to_one_second(small_scenario: dict[str, Any]) -> None:
    small_scenario["profiles"]["always_on"]["discovery"] = {"mode": "script"}
    scn = sim.load_scenario(small_scenario)
    (script,) = scn.profiles["always_on"].discovery
    assert script.interval.mean() == 1.0


def test_no_expiry_by_default(small_scenario: dict[str, Any]) -> None:
    del small_scenario["task_types"]["search"]["expiry"]
    assert sim.load_scenario(small_scenario).task_types["search"].expiry is None


# --------------------------------------------------------------------------- overrides


def test_override_dotted_paths(small_scenario: dict[str, Any]) -> None:
    scn = sim.load_scenario(small_scenario)
    new = sim.override(
        scn,
        {
            "horizon": "7d",
            "platform.commission": 0.1,
            "requesters.task_mix.survey": 0.4,
            "requesters.task_mix.search": 0.5,
            "profiles.employee.sessions.0.probability": 0.5,
            "profiles.employee.sessions.0.days": ["sat", "sun"],
            "task_types.search.expiry": None,
        },
    )
    assert new.horizon == 7 * 86400.0
    assert new.platform.commission == 0.1
    assert new.requesters.task_mix == {"survey": 0.4, "search": 0.5, "shelf_photo": 0.1}
    assert new.profiles["employee"].sessions[0].probability == 0.5
    assert new.profiles["employee"].sessions[0].days == ("sat", "sun")
    assert new.task_types["search"].expiry is None
    # the original is untouched
    assert scn.horizon == 3 * 86400.0
    assert scn.profiles["employee"].sessions[0].probability == 0.8
    assert scn.task_types["search"].expiry == 6 * 3600.0


def test_override_accepts_a_dict_and_adds_new_leaf_keys(small_scenario: dict[str, Any]) -> None:
    new = sim.override(small_scenario, {"platform.daily_cap": 20, "engine": "polling"})
    assert new.platform.daily_cap == 20
    assert new.engine == "polling"
    assert "daily_cap" not in small_scenario["platform"]


def test_override_revalidates(small_scenario: dict[str, Any]) -> None:
    scn = sim.load_scenario(small_scenario)
    with pytest.raises(sim.ScenarioError) as err:
        sim.override(scn, {"profiles.employee.share": 0.9})
    message = str(err.value)
    assert "profiles.employee.share" in message
    assert "sum to 1" in message


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("horizn", ["horizn", "unknown key"]),
        ("platform.comission", ["platform.comission", "unknown key"]),
        ("profiles.employe.share", ["profiles.employe", "no field"]),
        ("profiles.employee.sessions.3.probability", ["sessions.3", "no item", "1 items"]),
        ("profiles.employee.sessions.first.probability", ["sessions.first", "no item"]),
        ("horizon.unit", ["horizon.unit", "'horizon' is a value"]),
    ],
)
def test_override_of_a_missing_path(
    small_scenario: dict[str, Any], path: str, expected: list[str]
) -> None:
    scn = sim.load_scenario(small_scenario)
    with pytest.raises(sim.ScenarioError) as err:
        sim.override(scn, {path: 1})
    for text in expected:
        assert text in str(err.value)


# --------------------------------------------------------------------------- immutability


def test_scenario_is_frozen(small_scenario: dict[str, Any]) -> None:
    scn = sim.load_scenario(small_scenario)
    with pytest.raises(ValidationError, match="frozen"):
        scn.horizon = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        scn.platform.commission = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        scn.profiles["employee"].share = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        scn.task_types["survey"].effort.value = 1.0  # type: ignore[union-attr]
    assert scn == sim.load_scenario(small_scenario)


def test_nested_containers_are_read_only(small_scenario: dict[str, Any]) -> None:
    scn = sim.load_scenario(small_scenario)
    with pytest.raises((TypeError, AttributeError)):
        scn.requesters.task_mix["survey"] = 5.0  # type: ignore[index]
    with pytest.raises((TypeError, AttributeError)):
        scn.profiles["employee"].sessions.clear()  # type: ignore[attr-defined]


def test_scenarios_compare_by_value(small_scenario: dict[str, Any]) -> None:
    a, b = sim.load_scenario(small_scenario), sim.load_scenario(small_scenario)
    assert a == b
    assert a != sim.override(a, {"horizon": "4d"})


# --------------------------------------------------------------------------- bad input

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting the dotted ``path`` of a scenario dict to ``value``."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[leaf] = value

    return mutate


BAD_INPUT = [
    pytest.param(
        _set("horizn", "3d"), ["horizn", "unknown key", "'3d'"], id="unknown-key-top-level"
    ),
    pytest.param(
        _set("profiles.employee.sharee", 0.25),
        ["profiles.employee.sharee", "unknown key", "0.25"],
        id="unknown-key-nested",
    ),
    pytest.param(
        _set("platform.comission", 0.3),
        ["platform.comission", "unknown key", "0.3"],
        id="unknown-key-platform",
    ),
    pytest.param(
        _set("task_types.survey.reward", {"dist": "lognormal", "median": 1, "sigma": 1, "sd": 2}),
        ["task_types.survey.reward.sd", "unknown key", "2"],
        id="unknown-key-in-distribution",
    ),
    pytest.param(
        _set("requesters.batches_per_day", -5),
        ["requesters.batches_per_day", "-5", "greater than or equal to 0"],
        id="negative-rate",
    ),
    pytest.param(
        _set("platform.commission", -0.1),
        ["platform.commission", "-0.1", "greater than or equal to 0"],
        id="negative-commission",
    ),
    pytest.param(
        _set("task_types.survey.expiry", "-2h"),
        ["task_types.survey.expiry", "-2h", "greater than or equal to 0"],
        id="negative-duration",
    ),
    pytest.param(
        _set("horizon", "-1d"),
        ["horizon", "-1d", "greater than 0"],
        id="negative-horizon",
    ),
    pytest.param(
        _set("task_types.survey.effort", "-5min"),
        ["task_types.survey.effort", "-5min", "must not be negative"],
        id="negative-duration-distribution",
    ),
    pytest.param(
        _set("profiles.employee.share", 0.6),
        ["profiles", "share", "1.1", "sum to 1"],
        id="profile-shares-do-not-sum-to-1",
    ),
    pytest.param(
        _set("requesters.task_mix.survey", 0.2),
        ["requesters.task_mix", "0.7", "sum to 1"],
        id="task-mix-does-not-sum-to-1",
    ),
    pytest.param(
        _set("task_types.survey.reward", {"dist": "gaussian", "mean": 1}),
        ["task_types.survey.reward", "'gaussian'", "allowed", "lognormal", "pareto"],
        id="unknown-distribution",
    ),
    pytest.param(
        _set("platform.allocation.rule", "lotery"),
        ["platform.allocation", "'lotery'", "allowed", "fcfs"],
        id="unknown-allocation-rule",
    ),
    pytest.param(
        _set("workers", 0),
        ["workers", "0", "greater than or equal to 1"],
        id="no-workers",
    ),
    pytest.param(
        _set("profiles", {}),
        ["profiles", "at least 1"],
        id="no-profiles",
    ),
    pytest.param(
        _set("horizon", "3 days"),
        ["horizon", "'3 days'", "90s", "5min"],
        id="bad-duration-string",
    ),
    pytest.param(
        _set("task_types.search.effort", "5 mins"),
        ["task_types.search.effort", "'5 mins'", "90s"],
        id="bad-duration-string-nested",
    ),
    pytest.param(
        _set("profiles.student.task_types", ["survey", "serch"]),
        ["profiles.student.task_types", "'serch'", "allowed", "'search'"],
        id="unknown-task-type-in-profile",
    ),
    pytest.param(
        _set("requesters.task_mix", {"survey": 0.5, "search": 0.4, "photo": 0.1}),
        ["requesters.task_mix", "'photo'", "allowed", "'shelf_photo'"],
        id="unknown-task-type-in-mix",
    ),
    pytest.param(
        _set("profiles.employee.regions", {"north": 0.5, "west": 0.5}),
        ["profiles.employee.regions", "'west'", "allowed", "'south'"],
        id="unknown-region-in-profile",
    ),
    pytest.param(
        _set("profiles.employee.sessions.0.days", ["mon", "fry"]),
        ["profiles.employee.sessions.0.days.1", "'fry'", "'fri'"],
        id="unknown-day",
    ),
    pytest.param(
        _set("profiles.student.discovery.mode", "telepathy"),
        ["profiles.student.discovery", "'telepathy'", "'refresh'", "'notification'"],
        id="unknown-discovery-mode",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_INPUT)
def test_bad_input_is_reported_with_path_value_and_rule(
    small_scenario: dict[str, Any], mutate: Mutation, expected: list[str]
) -> None:
    mutate(small_scenario)
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(small_scenario)
    message = str(err.value)
    missing = [text for text in expected if text not in message]
    assert not missing, f"{missing} not in the message:\n{message}"


def test_scenario_error_is_a_value_error() -> None:
    assert issubclass(sim.ScenarioError, ValueError)


def test_not_a_mapping() -> None:
    with pytest.raises(sim.ScenarioError, match="mapping"):
        validate([1, 2])  # type: ignore[arg-type]


def test_a_scenario_file_may_extend_another(tmp_path: Path) -> None:
    """``extends`` starts from another file of the same folder, applies ``changes`` (dotted
    paths), then the keys the file sets itself; errors name the file; cycles are refused."""
    base = sim.load_scenario(SCENARIOS / "baseline.yaml")
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base.to_dict()))
    (tmp_path / "child.yaml").write_text(yaml.safe_dump({
        "extends": "base.yaml", "name": "child", "changes": {"platform.daily_cap": 7}}))
    (tmp_path / "grandchild.yaml").write_text(yaml.safe_dump({
        "extends": "child.yaml", "changes": {"horizon": "2d"}}))
    child = sim.load_scenario(tmp_path / "grandchild.yaml")
    assert (child.name, child.platform.daily_cap, child.horizon) == ("child", 7, 2 * 86400)
    assert child.profiles == base.profiles
    shipped = sim.load_scenario(SCENARIOS / "platforms_market.yaml")
    assert list(shipped.platforms) == ["main", "second", "third"]
    cases = {
        "loop.yaml": ({"extends": "loop.yaml"}, "extends this file again"),
        "away.yaml": ({"extends": "../base.yaml"}, "in the same folder"),
        "typo.yaml": ({"extends": "base.yaml", "changes": {"platfrom.daily_cap": 1}},
                      r"typo\.yaml: changes: platfrom\.daily_cap: no field"),
        "bad.yaml": ({"extends": "base.yaml", "changes": {"platform.daily_cap": -1}},
                     r"bad\.yaml: platform\.daily_cap"),
        "missing.yaml": ({"extends": "nope.yaml"}, "nope.yaml"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_text(yaml.safe_dump(data))
        with pytest.raises(sim.ScenarioError, match=message):
            sim.load_scenario(tmp_path / name)
