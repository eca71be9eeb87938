"""Invariants (DESIGN.md, "Validation") on runs of every shipped scenario and of small
scenarios exercising each platform feature, plus unit tests that ``sim.invariants.check``
does catch corrupted tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.results import invariants
from sim.scenario.allocation import RULE_PARAMS as RULES
from tests.regression.digests import at_test_size

ROOT = Path(__file__).resolve().parents[1]
WEEK = 7 * 86400.0


def shipped_runs() -> list[Any]:
    """One case per scenario in scenarios/*.yaml; a comparison file (``scenario:`` plus
    ``variants:``) gives one case per variant of its base scenario, with the spec's
    ``overrides`` and, when its ``supply`` is adaptive or both, adaptive supply."""
    cases = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "variants" in data and "scenario" in data:
            base = path.parent / data["scenario"]
            common = dict(data.get("overrides") or {})
            if data.get("supply") in ("adaptive", "both"):
                common["supply.adaptive"] = True
            for name, changes in (data["variants"] or {}).items():
                # as compare does: the spec's overrides first, then the variant's
                cases.append(pytest.param(base, [common, changes or {}],
                                          id=f"{path.stem}-{name}"))
        else:
            cases.append(pytest.param(path, [], id=path.stem))
    return cases

#: a small market touching every feature: sessions, three discovery modes, regional tasks
#: with travel, expiry, rejection, reservation pay, batches, commission, caps, payout threshold
MARKET: dict[str, Any] = {
    "name": "invariants",
    "horizon": "7d",
    "workers": 40,
    "regions": {"north": 0.5, "south": 0.5},
    "profiles": {
        "evening": {
            "share": 0.5,
            "sessions": [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "start": {"dist": "uniform", "low": "18h", "high": "20h"},
                    "duration": {"dist": "lognormal", "median": "2h", "sigma": 0.5},
                    "probability": 0.8,
                },
                {
                    "days": ["sat", "sun"],
                    "start": {"dist": "uniform", "low": "9h", "high": "12h"},
                    "duration": {"dist": "lognormal", "median": "3h", "sigma": 0.5},
                },
            ],
            "discovery": {"mode": "refresh", "interval": {"dist": "exponential", "mean": "5min"}},
            "speed": {"dist": "lognormal", "median": 1.0, "sigma": 0.3},
            "reservation_pay": {"dist": "uniform", "low": 0, "high": 8},
        },
        "always": {
            "share": 0.3,
            "always_online": True,
            "discovery": {
                "mode": "notification",
                "reaction": {"dist": "exponential", "mean": "30s"},
            },
            "task_types": ["survey"],
        },
        "daytime": {
            "share": 0.2,
            "sessions": [
                {"start": {"dist": "uniform", "low": "8h", "high": "12h"}, "duration": "6h"}
            ],
            "discovery": {"mode": "refresh", "interval": {"dist": "constant", "value": "2min"}},
        },
    },
    "task_types": {
        "survey": {
            "reward": {"dist": "lognormal", "median": 1.0, "sigma": 0.5},
            "effort": {"dist": "exponential", "mean": "10min"},
            "batch_size": {"dist": "pareto", "alpha": 1.5, "min": 1, "max": 30},
        },
        "photo": {
            "pay_rate": 9.0,
            "effort": {"dist": "lognormal", "median": "20min", "sigma": 0.3},
            "effort_spread": {"dist": "lognormal", "median": 1, "sigma": 0.3},
            "regional": True,
            "travel": {"dist": "uniform", "low": "5min", "high": "30min"},
        },
    },
    "requesters": {
        "count": 5,
        "activity": {"dist": "pareto", "alpha": 1.2, "min": 1},
        "batches_per_day": 60,
        "hour_of_day": [0.2] * 7 + [1.0] * 12 + [2.0] * 5,
        "task_mix": {"survey": 0.7, "photo": 0.3},
    },
}

#: one variant per platform feature: dotted-path overrides of MARKET
FEATURES: dict[str, dict[str, Any]] = {
    "sessions": {},
    "daily_cap": {"platform.daily_cap": 3},
    "max_claimed_3": {"platform.max_claimed": 3},
    "commission": {"platform.commission": 0.25},
    "expiry": {"task_types.survey.expiry": "20min", "task_types.photo.expiry": "3h"},
    "rejection": {"profiles.evening.rejection_probability": 0.3,
                  "profiles.always.rejection_probability": 0.3},
    "payout_threshold": {"platform.payout_threshold": 20.0},
    "everything": {"platform.daily_cap": 5, "platform.max_claimed": 3,
                   "platform.commission": 0.2, "platform.payout_threshold": 10.0,
                   "task_types.survey.expiry": "30min", "task_types.photo.expiry": "1d",
                   "profiles.evening.rejection_probability": 0.3},
    "polling_engine": {"engine": "polling", "horizon": "3d", "platform.max_claimed": 2,
                       "task_types.survey.expiry": "30min"},
}


def market(changes: dict[str, Any] | None = None) -> sim.Scenario:
    """MARKET with dotted-path ``changes`` applied."""
    return sim.override(sim.load_scenario(MARKET), changes or {})


@pytest.mark.parametrize(("path", "changes"), shipped_runs())
def test_shipped_scenario(path: Path, changes: list[dict[str, Any]]) -> None:
    """Every scenario (and comparison variant) in scenarios/ satisfies the invariants, with
    the horizon cut to a week (and a real-size market scaled down to 20,000 workers)."""
    scn = at_test_size(sim.load_scenario(path))
    for step in changes:
        scn = sim.override(scn, step)
    if scn.horizon > WEEK:
        scn = sim.override(scn, {"horizon": "7d"})
    res = sim.run(scn, seed=11)
    assert len(res.tasks) > 0
    invariants.assert_ok(res)


@pytest.mark.parametrize("feature", list(FEATURES))
@pytest.mark.parametrize("seed", [1, 2])
def test_feature_scenarios(feature: str, seed: int) -> None:
    """Small markets with each platform feature switched on satisfy every invariant."""
    res = sim.run(market(FEATURES[feature]), seed=seed)
    status = res.tasks["status"].astype(str)
    assert (status == "approved").sum() > 20  # the market actually did something
    invariants.assert_ok(res)


def test_features_show_up() -> None:
    """The feature variants exercise what they claim to (so the invariants are not vacuous)."""
    res = sim.run(market(FEATURES["everything"]), seed=1)
    status = res.tasks["status"].astype(str).value_counts()
    for s in ("approved", "rejected", "expired", "abandoned"):
        assert status.get(s, 0) > 0, f"no {s} task in the 'everything' variant: {status}"
    assert res.tasks["region"].notna().any()
    assert (res.workers["withheld"] > 0).any()
    assert (res.tasks["fee"] > 0).any()


def test_region_is_text_with_or_without_regions() -> None:
    """``region`` is pandas' string dtype holding each code's region name, missing for tasks
    that can be done anywhere, also in a scenario without regions (it was an object column of
    None there)."""
    res = sim.run(market(FEATURES["everything"]), seed=1)
    names = np.asarray([*res.scenario.regions, None], dtype=object)
    for table in (res.tasks, res.workers):
        assert table["region"].dtype == "str"
    codes = res.tasks["region"].map({r: i for i, r in enumerate(res.scenario.regions)})
    regional = res.tasks["region"].notna()
    assert 0 < regional.sum() < len(res.tasks)
    assert (names[codes[regional].astype(int)] == res.tasks["region"][regional]).all()
    no_regions = sim.load_scenario(ROOT / "scenarios" / "mturk_2018.yaml")
    assert not no_regions.regions
    plain = sim.run(sim.override(no_regions, {"horizon": "1d"}), seed=1)
    for table in (plain.tasks, plain.workers):
        assert table["region"].dtype == "str" and table["region"].isna().all()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_allocation_rule(rule: str) -> None:
    """Invariants hold whatever the allocation rule (default parameters)."""
    res = sim.run(market({"platform.allocation": {"rule": rule},
                          "platform.max_claimed": 2, "task_types.survey.expiry": "30min"}),
                  seed=3)
    invariants.assert_ok(res)


# ------------------------------------------------------------------- check catches errors


@pytest.fixture(scope="module")
def clean() -> sim.RunResult:
    """A run with claims, rejections, expiries and abandoned work; all invariants hold."""
    res = sim.run(market(FEATURES["everything"]), seed=5)
    assert invariants.check(res) == []
    return res


def corrupt(res: sim.RunResult, tasks: pd.DataFrame | None = None,
            workers: pd.DataFrame | None = None) -> sim.RunResult:
    """A copy of ``res`` with replaced tables."""
    return dataclasses.replace(
        res,
        tasks=res.tasks.copy() if tasks is None else tasks,
        workers=res.workers.copy() if workers is None else workers,
    )


def first(tasks: pd.DataFrame, status: str) -> int:
    """Row label of the first task with ``status``."""
    return tasks.index[tasks["status"].astype(str) == status][0]


def test_catches_claim_before_release(clean: sim.RunResult) -> None:
    """A task claimed before it was released."""
    tasks = clean.tasks.copy()
    i = first(tasks, "approved")
    tasks.loc[i, "claimed_at"] = tasks.loc[i, "released_at"] - 10
    problems = invariants.check(corrupt(clean, tasks))
    assert any("released_at <= claimed_at" in p for p in problems), problems


def test_catches_money_not_conserved(clean: sim.RunResult) -> None:
    """A worker paid more than the reward: pay, fees and requester payments disagree."""
    tasks = clean.tasks.copy()
    i = first(tasks, "approved")
    tasks.loc[i, "paid"] += 1.0
    problems = invariants.check(corrupt(clean, tasks))
    assert any(p.startswith("money:") for p in problems), problems
    assert any("paid their reward" in p for p in problems), problems


def test_catches_fee_not_matching_commission(clean: sim.RunResult) -> None:
    """Fees dropped: worker pay + fees no longer equal what requesters pay."""
    tasks = clean.tasks.copy()
    tasks["fee"] = 0.0
    problems = invariants.check(corrupt(clean, tasks))
    assert any("worker pay + fees" in p for p in problems), problems


def test_catches_earnings_not_matching_tasks(clean: sim.RunResult) -> None:
    """A worker's earnings differ from what its tasks paid."""
    workers = clean.workers.copy()
    j = workers.index[workers["earnings"] > 0][0]
    workers.loc[j, "earnings"] += 0.5
    problems = invariants.check(corrupt(clean, workers=workers))
    assert any("total worker earnings" in p for p in problems), problems
    assert any("a worker's earnings" in p for p in problems), problems


def test_catches_double_claim(clean: sim.RunResult) -> None:
    """The same task twice in the table."""
    tasks = pd.concat([clean.tasks, clean.tasks.iloc[[0]]], ignore_index=True)
    problems = invariants.check(corrupt(clean, tasks))
    assert any("task_id is not unique" in p for p in problems), problems


def test_catches_claim_without_worker(clean: sim.RunResult) -> None:
    """A claimed task without a worker."""
    tasks = clean.tasks.copy()
    tasks.loc[first(tasks, "approved"), "worker_id"] = pd.NA
    problems = invariants.check(corrupt(clean, tasks))
    assert any("claimed_at and worker_id must be set together" in p for p in problems), problems


def test_catches_overlapping_work(clean: sim.RunResult) -> None:
    """Move a worker's second task to start in the middle of its first one."""
    tasks = clean.tasks.copy()
    done = tasks[tasks["status"].astype(str) == "approved"]
    busy = done.groupby("worker_id").filter(lambda g: len(g) >= 2)
    a, b = busy.sort_values(["worker_id", "started_at"]).index[:2]
    mid = (tasks.loc[a, "started_at"] + tasks.loc[a, "completed_at"]) / 2
    length = tasks.loc[b, "completed_at"] - tasks.loc[b, "started_at"]
    tasks.loc[b, ["claimed_at", "started_at"]] = mid
    tasks.loc[b, "completed_at"] = mid + length
    tasks.loc[b, "released_at"] = min(tasks.loc[b, "released_at"], mid)
    problems = invariants.check(corrupt(clean, tasks))
    assert any(p.startswith("one task at a time") for p in problems), problems


def test_catches_work_while_offline(clean: sim.RunResult) -> None:
    """A completed task of a session worker moved to the middle of the night."""
    tasks = clean.tasks.copy()
    evening = clean.workers.loc[clean.workers["profile"] == "evening", "worker_id"]
    done = tasks[(tasks["status"].astype(str) == "approved") & tasks["worker_id"].isin(evening)]
    i = done.index[0]
    night = 86400.0 + 3 * 3600.0  # 3 am on day 1: evening sessions start at 18h
    length = tasks.loc[i, "completed_at"] - tasks.loc[i, "started_at"]
    tasks.loc[i, ["released_at", "claimed_at", "started_at"]] = night
    tasks.loc[i, "completed_at"] = night + length
    problems = invariants.check(corrupt(clean, tasks))
    assert any("while its worker was offline" in p for p in problems), problems


def test_uses_the_sessions_table_when_the_result_has_one(clean: sim.RunResult) -> None:
    """With a ``sessions`` table on the result, sessions come from it: the rebuilt sessions
    pass; the same sessions shifted by an hour put work outside them."""
    sessions = invariants.session_table(clean)
    with_sessions = dataclasses.replace(clean)
    with_sessions.sessions = sessions.rename(columns={"start": "started_at", "end": "ended_at"})
    assert invariants.check(with_sessions) == []
    with_sessions.sessions = sessions.assign(start=sessions["start"] + 3600,
                                             end=sessions["end"] + 3600)
    problems = invariants.check(with_sessions)
    assert any(p.startswith("offline:") for p in problems), problems


def test_catches_too_much_work_time(clean: sim.RunResult) -> None:
    """More work time than online time."""
    workers = clean.workers.copy()
    j = workers.index[workers["work_time"] > 0][0]
    workers.loc[j, "work_time"] = workers.loc[j, "online_time"] + 60
    problems = invariants.check(corrupt(clean, workers=workers))
    assert any("work_time + unpaid_work_time > online_time" in p for p in problems), problems


def test_catches_inconsistent_status(clean: sim.RunResult) -> None:
    """An approved task marked open, an expired task with a claim."""
    tasks = clean.tasks.copy()
    tasks["status"] = tasks["status"].astype(str)
    tasks.loc[first(tasks, "approved"), "status"] = "open"
    tasks.loc[first(tasks, "expired"), "claimed_at"] = tasks.loc[first(tasks, "expired"),
                                                                 "released_at"]
    problems = invariants.check(corrupt(clean, tasks))
    assert any("open tasks must never have been claimed" in p for p in problems), problems
    assert any("only approved tasks are paid" in p for p in problems), problems
    assert any("expired tasks must never have been claimed" in p for p in problems), problems


def test_catches_completion_after_horizon(clean: sim.RunResult) -> None:
    """Work completed after the end of the run."""
    tasks = clean.tasks.copy()
    tasks.loc[first(tasks, "approved"), "completed_at"] = clean.horizon + 1
    problems = invariants.check(corrupt(clean, tasks))
    assert any("completed_at <= horizon" in p for p in problems), problems


def test_catches_claim_after_expiry(clean: sim.RunResult) -> None:
    """A task claimed after it expired."""
    tasks = clean.tasks.copy()
    i = tasks.index[(tasks["status"].astype(str) == "approved")
                    & np.isfinite(tasks["expires_at"])][0]
    tasks.loc[i, "expires_at"] = tasks.loc[i, "claimed_at"] - 1
    problems = invariants.check(corrupt(clean, tasks))
    assert any("claimed_at <= expires_at" in p for p in problems), problems


def test_assert_ok_lists_violations(clean: sim.RunResult) -> None:
    """assert_ok raises on a corrupted run and passes on a clean one."""
    tasks = clean.tasks.copy()
    tasks.loc[first(tasks, "approved"), "paid"] = 0.0
    with pytest.raises(AssertionError, match="invariant"):
        invariants.assert_ok(corrupt(clean, tasks))
    invariants.assert_ok(clean)  # the untouched run passes


# ------------------------------------------------------- work ending at the session end

#: one worker online 9h-11h every day, refreshing every 10 minutes, plenty of 10-minute tasks:
#: it works back to back from 9h and its last task would end exactly when the session ends
BOUNDARY: dict[str, Any] = {
    "name": "boundary",
    "horizon": "2d",
    "workers": 1,
    "profiles": {
        "worker": {
            "share": 1.0,
            "sessions": [{"start": "9h", "duration": "2h"}],
            "discovery": {"mode": "refresh", "interval": "10min"},
        }
    },
    "task_types": {"task": {"reward": 1.0, "effort": "10min"}},
    "requesters": {"count": 1, "batches_per_day": 200, "task_mix": {"task": 1.0}},
}


def test_task_ending_exactly_at_session_end() -> None:
    """Integer times: the task due exactly at the session end is abandoned, counted once."""
    invariants.assert_ok(sim.run(BOUNDARY, seed=1))


#: same situation with a random session start (uniform 8h-10h), one-hour sessions and a
#: catching script: SimPy reaches the start as ``now + (start - now)``, one ulp off the drawn
#: start, so the session-end event and the last completion can fall on the same float time
ROUNDING: dict[str, Any] = {
    "name": "rounding",
    "horizon": "3d",
    "workers": 1,
    "profiles": {
        "worker": {
            "share": 1.0,
            "sessions": [
                {"start": {"dist": "uniform", "low": "8h", "high": "10h"}, "duration": "1h"}
            ],
            "discovery": {"mode": "script"},
        }
    },
    "task_types": {"task": {"reward": 1.0, "effort": "10min", "batch_size": 50}},
    "requesters": {"count": 1, "batches_per_day": 24, "task_mix": {"task": 1.0}},
}


def test_task_ending_at_session_end_after_rounding() -> None:
    """Completion and session end on the same float time: the task must be counted once
    (seed 20 reproduced the double count before sessions ended at the exact float time)."""
    for seed in range(30):
        invariants.assert_ok(sim.run(ROUNDING, seed=seed))


def test_catches_daily_cap_exceeded(clean: sim.RunResult) -> None:
    """A worker's claims moved into one day beyond the daily cap."""
    cap = clean.scenario.platform.daily_cap
    tasks = clean.tasks.copy()
    counts = tasks["worker_id"].value_counts()
    w = counts.index[0]
    assert counts.iloc[0] > cap
    mine = tasks.index[tasks["worker_id"] == w][: cap + 1]
    tasks.loc[mine, "claimed_at"] = 3600.0 + np.arange(len(mine))
    tasks.loc[mine, "released_at"] = 0.0
    problems = invariants.check(corrupt(clean, tasks))
    assert any(p.startswith("daily cap:") for p in problems), problems
