"""Shared pytest fixtures: a tiny, fast, valid scenario that any test can run or mutate."""

from __future__ import annotations

import copy
from typing import Any

import pytest

SMALL_SCENARIO: dict[str, Any] = {
    "name": "small",
    "description": "Tiny market for tests: 60 workers, 3 days.",
    "currency": "EUR",
    "horizon": "3d",
    "workers": 60,
    "regions": {"north": 0.5, "south": 0.5},
    "profiles": {
        "employee": {
            "share": 0.5,
            "description": "Full-time employee, weekday evenings",
            "sessions": [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "start": {"dist": "uniform", "low": "18h", "high": "20h"},
                    "duration": {"dist": "lognormal", "median": "1h", "sigma": 0.3},
                    "probability": 0.8,
                }
            ],
            "discovery": {"mode": "refresh", "interval": {"dist": "exponential", "mean": "10min"}},
            "reservation_pay": 0.1,
            "regions": {"north": 0.5, "south": 0.5},
        },
        "student": {
            "share": 0.3,
            "description": "Student, afternoons, push notifications",
            "sessions": [
                {
                    "start": {"dist": "uniform", "low": "13h", "high": "16h"},
                    "duration": "2h",
                    "probability": 0.6,
                }
            ],
            "discovery": {"mode": "notification", "reaction": {"dist": "exponential", "mean": 60}},
            "task_types": ["survey", "search"],
        },
        "always_on": {
            "share": 0.2,
            "description": "Financially distressed, always online with a script",
            "always_online": True,
            "discovery": {"mode": "script", "interval": "5s"},
            "speed": 1.3,
            "rejection_probability": 0.05,
            "regions": {"north": 1.0},
        },
    },
    "task_types": {
        "survey": {
            "reward": {"dist": "lognormal", "median": 0.8, "sigma": 0.5},
            "effort": "5min",
            "batch_size": {"dist": "pareto", "alpha": 1.5, "min": 1, "max": 20},
            "expiry": "1d",
        },
        "search": {"pay_rate": 4.0, "effort": "90s", "expiry": "6h"},
        "shelf_photo": {
            "reward": 3.0,
            "effort": "10min",
            "regional": True,
            "travel": {"dist": "uniform", "low": "5min", "high": "30min"},
            "expiry": "2d",
        },
    },
    "requesters": {
        "count": 10,
        "activity": {"dist": "pareto", "alpha": 1.2, "min": 1},
        "batches_per_day": 200,
        "task_mix": {"survey": 0.5, "search": 0.4, "shelf_photo": 0.1},
    },
    "platform": {"allocation": {"rule": "fcfs"}, "commission": 0.2},
}
"""A tiny valid scenario (three profiles, three task types incl. a regional one, 3 days) that
runs in a fraction of a second; tests get a deep copy through the ``small_scenario`` fixture."""


@pytest.fixture
def small_scenario() -> dict[str, Any]:
    """A fresh copy of :data:`SMALL_SCENARIO`, safe to mutate in a test."""
    return copy.deepcopy(SMALL_SCENARIO)
