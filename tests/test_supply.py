"""Adaptive labour supply (issue 11): each behaviour against theory or an exact expectation,
and its direction of effect with paired seeds.

* fixed supply (no ``supply`` section, or ``supply.adaptive: false``) gives the same tables as
  before, bit for bit (also covered by the regression digests);
* constant registration rate and constant quit rate: the number of registered workers is
  Poisson with mean rate / quit rate in steady state (M/M/infinity), tenures are exponential
  (Kolmogorov-Smirnov) and the estimated half-life is ln 2 over the quit rate;
* patience with no task to claim ends every session exactly at the patience;
* learning: every task takes exactly effort x speed x max(floor, (1 + n) ** -rate);
* monotone responses, each shown by a paired 95 % interval that excludes 0: a higher target
  raises the hours online of workers below it; a higher quit sensitivity lowers the low
  earners still registered at month 6; a minimum pay (demand elasticity 0) lowers exits;
* invariants hold with workers joining and leaving; the worker-month panel adds up to the
  workers table; the draws of adaptive supply do not depend on the allocation rule.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.foundation.units import DAY, MONTH
from sim.results import invariants
from tests.conftest import SMALL_SCENARIO


def market(**changes: Any) -> dict[str, Any]:
    """The small test market (conftest) with ``changes`` at dotted paths."""
    data = copy.deepcopy(SMALL_SCENARIO)
    scn = sim.override(data, changes) if changes else sim.load_scenario(data)
    return scn.to_dict()


def paired(a: dict[str, Any], b: dict[str, Any], measure: Any, reps: int = 10
           ) -> tuple[float, float, float]:
    """Mean of measure(b run) - measure(a run) over ``reps`` paired seeds (the same seed for
    both, so the same workers and task arrivals) and its 95 % t interval."""
    diffs = np.array([measure(sim.run(b, seed=seed)) - measure(sim.run(a, seed=seed))
                      for seed in range(100, 100 + reps)])
    half = stats.t.ppf(0.975, reps - 1) * diffs.std(ddof=1) / math.sqrt(reps)
    return float(diffs.mean()), float(diffs.mean() - half), float(diffs.mean() + half)


# --------------------------------------------------------------------------- fixed supply

def test_switch_off_gives_the_fixed_supply_tables() -> None:
    """Behaviours written but switched off (``supply.adaptive: false``): the tables of the
    scenario without them, bit for bit."""
    plain = market(horizon="2d")
    with_sections = market(horizon="2d", **{
        "profiles.employee.supply": {"patience": "10min", "leaving": {
            "expectation": 2, "base_rate": 0.5, "max_rate": 3}},
        "supply": {"adaptive": False, "joining": {"rate": 5}}})
    a, b = sim.run(plain, seed=4), sim.run(with_sections, seed=4)
    for name in ("tasks", "workers", "sessions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.summary == b.summary or all(
        (x == y) or (x != x and y != y) for x, y in zip(a.summary.values(), b.summary.values(),
                                                       strict=True))


# --------------------------------------------------------------------------- theory

JOIN_RATE, QUIT_RATE_30D = 20.0, 3.0  # registrations per day; exits per 30 days per worker


def turnover_market(horizon: str) -> dict[str, Any]:
    """No task at all, constant registration and quit rates."""
    return {
        "name": "turnover", "horizon": horizon, "workers": 200,
        "profiles": {"w": {"share": 1.0, "discovery": {"mode": "refresh", "interval": 60},
                           "supply": {"leaving": {"expectation": 1.0, "steepness": 0,
                                                  "base_rate": QUIT_RATE_30D,
                                                  "max_rate": QUIT_RATE_30D}}}},
        "task_types": {"t": {"reward": 1, "effort": 60}},
        "requesters": {"count": 1, "batches_per_day": 0, "task_mix": {"t": 1}},
        "supply": {"joining": {"rate": JOIN_RATE}},
    }


def test_registered_workers_are_poisson_and_tenures_exponential() -> None:
    """M/M/infinity: with arrival rate lambda and quit rate mu the number registered is
    Poisson(lambda / mu) in steady state (mean 200 here, reached from 200 after 12 mean
    tenures); tenures are exponential with mean 1 / mu (10 days) and half-life ln 2 / mu."""
    mu = QUIT_RATE_30D / 30  # per day
    counts, tenures, half_lives = [], [], []
    for seed in range(40):
        res = sim.run(turnover_market("120d"), seed=seed)
        w = res.workers
        counts.append(int(np.isinf(w["left_at"]).sum()))
        early = (w["joined_at"] > 0) & (w["joined_at"] < 30 * DAY) & np.isfinite(w["left_at"])
        tenures.append(((w["left_at"] - w["joined_at"])[early] / DAY).to_numpy())
        half_lives.append(res.summary["worker_half_life_months"])
    counts_arr, mean = np.asarray(counts), JOIN_RATE / mu
    se = math.sqrt(mean / len(counts_arr))
    assert abs(counts_arr.mean() - mean) < 3 * se, (counts_arr.mean(), mean, se)
    # Poisson: variance equal to the mean (dispersion test, chi-square with n-1 dof)
    dispersion = counts_arr.var(ddof=1) * (len(counts_arr) - 1) / mean
    assert stats.chi2(len(counts_arr) - 1).cdf(dispersion) > 0.005
    assert stats.chi2(len(counts_arr) - 1).sf(dispersion) > 0.005
    all_tenures = np.concatenate(tenures)
    assert stats.kstest(all_tenures, "expon", args=(0, 1 / mu)).pvalue > 0.01
    expected_half_life = math.log(2) / (mu * MONTH / DAY)  # months
    assert np.mean(half_lives) == pytest.approx(expected_half_life, rel=0.03)


def test_patience_ends_sessions_exactly_when_nothing_can_be_claimed() -> None:
    """No task is ever posted: every session lasts the worker's patience (20 min), or its
    planned length when shorter."""
    scn = market(**{"horizon": "7d", "requesters.batches_per_day": 0,
                    **{f"profiles.{p}.supply": {"patience": "20min"} for p in
                       SMALL_SCENARIO["profiles"]}})
    planned = sim.run(market(**{"horizon": "7d", "requesters.batches_per_day": 0}), seed=2)
    res = sim.run(scn, seed=2)
    got = (res.sessions["end"] - res.sessions["start"]).to_numpy()
    expected = np.minimum(planned.sessions["end"] - planned.sessions["start"], 1200.0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_learning_follows_the_curve_exactly() -> None:
    """With constant effort and no spread, the n-th task a worker completes takes
    effort x speed x max(floor, (1 + n - 1) ** -rate) seconds."""
    scn = market(**{"horizon": "3d", "task_types.survey.effort": 300,
                    "task_types.survey.expiry": None, "requesters.task_mix": {"survey": 1.0},
                    "profiles.always_on.supply": {"learning": {"rate": 0.2, "floor": 0.6}}})
    res = sim.run(scn, seed=3)
    t, w = res.tasks, res.workers.set_index("worker_id")
    done = t[t["status"].isin(["approved", "rejected"])].sort_values("completed_at")
    done = done[done["winner_profile"] == "always_on"]
    assert len(done) > 200
    n = done.groupby("worker_id").cumcount().to_numpy()
    speed = w.loc[done["worker_id"].to_numpy(), "speed"].to_numpy()
    expected = 300 * speed * np.maximum(0.6, (1 + n) ** -0.2)
    np.testing.assert_allclose(done["completed_at"] - done["started_at"], expected, rtol=1e-9)


# --------------------------------------------------------------------------- responses

def test_a_higher_target_raises_hours_online_of_workers_below_it() -> None:
    """Students earn a few euros a month; with a daily target of 10 (all below it) they
    extend more sessions than with a target of 2."""
    def market_with(target: float) -> dict[str, Any]:
        return market(**{"horizon": "14d", "profiles.student.supply": {
            "target": {"daily": target, "strength": 1.0, "extension": "1h"}}})

    def student_hours(res: sim.RunResult) -> float:
        w = res.workers
        return float(w.loc[w["profile"] == "student", "online_time"].sum() / 3600)

    mean, low, high = paired(market_with(2), market_with(10), student_hours)
    assert low > 0, (mean, low, high)


def leaving_market(steepness: float, **changes: Any) -> dict[str, Any]:
    """Employees (about 1.5 EUR per hour online) expect 3: they leave faster with a steeper
    response; registrations replace them."""
    return market(**{"horizon": "180d", "requesters.batches_per_day": 60,
                     "profiles.employee.supply": {"leaving": {
                         "expectation": 3.0, "base_rate": 0.05, "max_rate": 0.6,
                         "midpoint": 0.7, "steepness": steepness}},
                     "supply": {"joining": {"rate": 0.2}}, **changes})


def test_a_higher_quit_sensitivity_lowers_low_earners_registered_at_month_6() -> None:
    """Low earners: employees, paid about half what they expect."""
    def employees_left_registered(res: sim.RunResult) -> float:
        w = res.workers
        return float(((w["profile"] == "employee") & np.isinf(w["left_at"])).sum())

    mean, low, high = paired(leaving_market(2.0), leaving_market(12.0),
                             employees_left_registered, reps=8)
    assert high < 0, (mean, low, high)


def test_a_minimum_pay_lowers_exits_without_demand_response() -> None:
    """Workers always online earn about 0.7 EUR per hour online, 0.9 with a minimum of 12
    EUR per hour of effort (requesters post as many tasks): fewer of them leave."""
    def always_on_market(**changes: Any) -> dict[str, Any]:
        return market(**{"horizon": "60d", "profiles.always_on.supply": {"leaving": {
            "expectation": 1.0, "base_rate": 0.1, "max_rate": 3.0, "midpoint": 0.8,
            "steepness": 8.0}}, "supply": {"joining": {"rate": 1.0}}, **changes})

    def exits(res: sim.RunResult) -> float:
        return res.summary["workers_left"]

    mean, low, high = paired(always_on_market(),
                             always_on_market(**{"platform.minimum_pay_rate": 12.0}), exits)
    assert high < 0, (mean, low, high)


# --------------------------------------------------------------------------- bookkeeping

def full_behaviour(**changes: Any) -> dict[str, Any]:
    supply = {"patience": {"dist": "exponential", "mean": "30min"},
              "continuation": {"probability": 0.5, "duration": "30min"},
              "target": {"daily": 3, "monthly": 40, "strength": 1.0},
              "leaving": {"expectation": 1.0, "base_rate": 0.3, "max_rate": 3.0},
              "learning": {"rate": 0.05, "floor": 0.7}}
    return market(**{"horizon": "40d", "supply": {"joining": {"rate": 2.0}},
                     **{f"profiles.{p}.supply": supply for p in SMALL_SCENARIO["profiles"]},
                     **changes})


@pytest.mark.parametrize("rule", ["fcfs", "lottery"])
def test_invariants_hold_with_workers_joining_and_leaving(rule: str) -> None:
    """Nobody works before joining or after leaving; money is conserved; every other
    invariant holds."""
    allocation = {"rule": rule} if rule == "fcfs" else {"rule": rule, "window": "2min"}
    res = sim.run(full_behaviour(**{"platform.allocation": allocation}), seed=5)
    assert res.summary["workers_left"] > 0 and res.summary["workers_joined"] > 0
    assert invariants.check(res) == []


def test_panel_adds_up_to_the_workers_table() -> None:
    """Summed over months, the panel gives each worker's online time, paid time, earnings
    and tasks."""
    res = sim.run(full_behaviour(), seed=6)
    panel = res.panel.groupby("worker_id")[["online_time", "paid_time", "earnings",
                                             "tasks"]].sum()
    w = res.workers.set_index("worker_id").loc[panel.index]
    np.testing.assert_allclose(panel["online_time"], w["online_time"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(panel["paid_time"], w["work_time"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(panel["earnings"], w["earnings"], rtol=1e-9, atol=1e-9)
    assert (panel["tasks"] == w["tasks_approved"] + w["tasks_rejected"]).all()
    assert set(res.panel["month"]) == {0, 1}  # 40 days: a 30-day month and 10 days
    left = res.workers.loc[np.isfinite(res.workers["left_at"]), "worker_id"]
    last = res.panel[res.panel["worker_id"].isin(left)].groupby("worker_id").tail(1)
    assert not last["registered"].any()


def test_the_rule_changes_behaviour_not_the_draws() -> None:
    """Changing the allocation rule leaves every draw of adaptive supply as it was: the
    same candidates register at the same times (registrations do not follow pay here), with
    the same attributes; what differs is what they do."""
    a = sim.run(full_behaviour(), seed=8)
    b = sim.run(full_behaviour(**{"platform.allocation": {"rule": "lottery",
                                                           "window": "5min"}}), seed=8)
    cols = ["worker_id", "profile", "speed", "rejection_probability", "reservation_pay",
            "joined_at"]
    pd.testing.assert_frame_equal(a.workers[cols], b.workers[cols])
    assert not a.workers["online_time"].equals(b.workers["online_time"])
