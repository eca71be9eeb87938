"""Issue 9, defect 3: validation refuses what a run cannot take, before anything runs.

Non-finite numbers everywhere, probabilities outside [0, 1] (refused, not clipped), empty share
mappings, distributions that can draw a value the field cannot take, values beyond documented
maxima, and a rule window longer than the horizon. Each case names the field in its message.
Every case here ran (silently wrong) or crashed later with a traceback before the fix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

import sim
from sim.scenario import distributions, fields

NAN, INF = math.nan, math.inf

#: (dotted path, value, text the message must contain): each one is refused at load
REFUSED = [
    ("horizon", "1e400s", "finite"),
    ("horizon", INF, "finite"),
    ("horizon", "3661d", "less than or equal"),
    ("workers", 2 * 10**9, "less than or equal"),
    ("scale", NAN, "finite"),
    ("requesters.batches_per_day", INF, "finite"),
    ("requesters.batches_per_day", NAN, "finite"),
    ("requesters.count", 10**7, "less than or equal"),
    ("requesters.hour_of_day", [1.0] * 23 + [NAN], "finite"),
    ("requesters.task_mix", {}, "at least 1"),
    ("profiles.employee.regions", {}, "at least 1"),
    ("profiles.employee.sessions.0.probability", NAN, "finite"),
    ("profiles.employee.sessions.0.duration", INF, "finite"),
    ("profiles.employee.discovery", {"mode": "refresh", "interval": NAN}, "finite"),
    ("profiles.student.discovery", {"mode": "notification", "reaction": {
        "dist": "exponential", "mean": INF}}, "finite"),
    ("profiles.employee.speed", 0, "must be positive"),
    ("profiles.employee.speed", {"dist": "uniform", "low": 0, "high": 2}, "must be positive"),
    ("profiles.employee.speed", {"dist": "choice", "values": [0.5, 0.0]}, "must be positive"),
    ("profiles.employee.speed", NAN, "finite"),
    ("profiles.employee.rejection_probability", 1.5, "must not exceed 1"),
    ("profiles.employee.rejection_probability", -0.1, "must not be negative"),
    ("profiles.employee.rejection_probability", {"dist": "lognormal", "median": 0.1,
                                                 "sigma": 1}, "must not exceed 1"),
    ("profiles.employee.reservation_pay", {"dist": "uniform", "low": -1, "high": 1},
     "must not be negative"),
    ("task_types.survey.effort_spread", NAN, "finite"),
    ("task_types.survey.effort", {"dist": "choice", "values": ["1min", "-1min"]},
     "must not be negative"),
    ("task_types.survey.reward", {"dist": "lognormal", "median": 1, "sigma": 50},
     "less than or equal"),
    ("task_types.survey.reward", 1e16, "magnitude"),
    ("task_types.survey.batch_size", {"dist": "pareto", "alpha": 0.8, "min": 1},
     "no finite mean"),
    ("task_types.survey.batch_size", {"dist": "pareto", "alpha": 0.1, "min": 1},
     "needs a 'max'"),
    ("task_types.survey.expiry", INF, "finite"),
    ("platform.minimum_pay_rate", INF, "finite"),
    ("platform.commission", NAN, "finite"),
    ("platform.monthly_cap", INF, "finite"),
    ("platform.allocation", {"rule": "lottery", "window": INF}, "finite"),
    ("platform.allocation", {"rule": "lottery", "window": "4d"}, "longer than the horizon"),
]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[leaf] = value


@pytest.mark.parametrize(("path", "value", "text"), REFUSED,
                         ids=[f"{p}={v!r}"[:60] for p, v, _ in REFUSED])
def test_refused_at_load_naming_the_field(small_scenario: dict[str, Any], path: str,
                                          value: Any, text: str) -> None:
    """Each value is refused by the scenario schema with the field path and the rule."""
    _set(small_scenario, path, value)
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(small_scenario)
    message = str(err.value)
    assert path.split(".")[0] in message and text in message, message


def test_valid_edge_values_still_load(small_scenario: dict[str, Any]) -> None:
    """The limits are not stricter than they must be: edge values that can run are taken."""
    for path, value in [("profiles.employee.rejection_probability", 1.0),
                        ("profiles.employee.rejection_probability",
                         {"dist": "uniform", "low": 0, "high": 1}),
                        ("profiles.employee.speed", {"dist": "exponential", "mean": 1}),
                        ("task_types.survey.batch_size",
                         {"dist": "pareto", "alpha": 0.3, "min": 1, "max": 1e6}),
                        ("task_types.survey.expiry", 0), ("horizon", "3660d"),
                        ("platform.allocation", {"rule": "lottery", "window": "3d"})]:
        _set(small_scenario, path, value)
    sim.load_scenario(small_scenario)


def test_probabilities_are_not_clipped(small_scenario: dict[str, Any]) -> None:
    """A rejection probability drawn in [0, 1] reaches the workers table unchanged."""
    _set(small_scenario, "profiles.employee.rejection_probability",
         {"dist": "uniform", "low": 0.2, "high": 0.9})
    res = sim.run(small_scenario, seed=1)
    drawn = res.workers.loc[res.workers["profile"] == "employee", "rejection_probability"]
    assert drawn.between(0.2, 0.9).all() and drawn.nunique() == len(drawn)


def test_one_line_per_problem_with_the_value_once(small_scenario: dict[str, Any]) -> None:
    """Two problems give two lines; each quotes the value once (not "(got ...)" twice)."""
    _set(small_scenario, "platform.allocation", {"rule": "lottery", "window": -5})
    _set(small_scenario, "workers", 0)
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(small_scenario)
    lines = str(err.value).splitlines()
    assert len(lines) == 2, lines
    assert all(line.count("(got ") == 1 for line in lines), lines
    assert any(line.startswith("platform.allocation: window:") for line in lines), lines


def test_a_huge_value_is_shortened_in_the_message(small_scenario: dict[str, Any]) -> None:
    """An error never echoes a huge input."""
    small_scenario["name"] = ["x" * 10_000] * 1000
    with pytest.raises(sim.ScenarioError) as err:
        sim.load_scenario(small_scenario)
    assert len(str(err.value)) < 400


def test_support_of_every_distribution() -> None:
    """Each distribution states the range of its draws, and its draws stay inside it."""
    rng = np.random.default_rng(1)
    cases = [{"dist": "constant", "value": 2.0}, {"dist": "exponential", "mean": 3.0},
             {"dist": "uniform", "low": -1.0, "high": 4.0},
             {"dist": "lognormal", "median": 2.0, "sigma": 1.0},
             {"dist": "choice", "values": [1.0, 5.0, 9.0], "weights": [1.0, 1.0, 0.0]},
             {"dist": "pareto", "alpha": 1.5, "min": 2.0, "max": 50.0}]
    adapter = TypeAdapter(distributions.Distribution)
    for spec in cases:
        dist = adapter.validate_python(spec)
        s, x = dist.support(), dist.sample(rng, 20_000)
        assert (x >= s.low).all() and (x <= s.high).all(), spec
        if not s.low_included:
            assert (x > s.low).all(), spec
    choice = adapter.validate_python(cases[4])
    assert choice.support().high == 5.0  # a value of weight 0 is never drawn


def test_within_describes_its_rule() -> None:
    """The scenario reference prints each distribution field's rule."""
    assert fields.NONNEGATIVE.describe() == "values ≥ 0"
    assert fields.Within(0, 1).describe() == "values in [0, 1]"
