"""Unit tests of sim.analysis.metrics against hand-computed values on tiny tables built per the
contract.

Gini formula used throughout (n-normalised, x sorted ascending, ranks i = 1..n):
    G = 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n
Quantiles are numpy's linear interpolation: the q-quantile of sorted x_0..x_{n-1} sits at
position q * (n - 1).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from sim.analysis import metrics

DAY = 86_400.0
IDENTITY = {"run_id": "r0", "seed": 1, "variant": "baseline", "replication": 0}


def make_tasks() -> pd.DataFrame:
    """Five tasks: three claimed (latencies 10 s, 30 s, 60 s), one expired, one still open."""
    nan = math.nan
    frame = pd.DataFrame(
        {
            "task_id": [0, 1, 2, 3, 4],
            "batch_id": [0, 0, 1, 1, 2],
            "requester_id": [0, 0, 1, 1, 0],
            "task_type": ["survey", "survey", "photo", "photo", "search"],
            "region": [None, None, "north", "north", None],
            "reward": [5.0, 5.0, 2.0, 2.0, 1.0],
            "fee": [1.0, 1.0, 0.0, 0.0, 0.0],
            "effort": [60.0, 60.0, 120.0, 120.0, 30.0],
            "released_at": [0.0, 100.0, 200.0, 300.0, 1000.0],
            "expires_at": [math.inf, math.inf, 1000.0, 400.0, math.inf],
            "claimed_at": [10.0, 130.0, 260.0, nan, nan],
            "started_at": [10.0, 130.0, 260.0, nan, nan],
            "completed_at": [70.0, 190.0, 380.0, nan, nan],
            "worker_id": pd.array([2, 3, 0, None, None], dtype="Int64"),
            "winner_profile": ["b", "b", "a", None, None],
            "status": ["approved", "approved", "rejected", "expired", "open"],
            "paid": [5.0, 5.0, 0.0, 0.0, 0.0],
        }
    )
    return frame.assign(**IDENTITY)


def make_workers() -> pd.DataFrame:
    """Four workers, two per profile; earnings 0, 0, 10, 30; tasks done 1, 0, 2, 6."""
    nan = math.nan
    frame = pd.DataFrame(
        {
            "worker_id": [0, 1, 2, 3],
            "profile": ["a", "a", "b", "b"],
            "region": ["north", "south", "north", "south"],
            "discovery": ["refresh", "refresh", "notification", "script"],
            "speed": [1.0, 1.0, 1.2, 2.0],
            "rejection_probability": [0.1, 0.1, 0.05, 0.02],
            "reservation_pay": [0.0, 0.0, 6.0, 9.0],
            "sessions": [1, 0, 3, 5],
            "online_time": [3600.0, 0.0, 5400.0, 3600.0],
            "work_time": [0.0, 0.0, 3600.0, 1800.0],
            "unpaid_work_time": [120.0, 0.0, 0.0, 60.0],
            "unpaid_time": [3600.0, 0.0, 1800.0, 1800.0],
            "earnings": [0.0, 0.0, 10.0, 30.0],
            "withheld": [0.0, 0.0, 10.0, 0.0],
            "tasks_claimed": [1, 0, 2, 6],
            "tasks_approved": [0, 0, 2, 5],
            "tasks_rejected": [1, 0, 0, 1],
            "tasks_abandoned": [0, 0, 0, 0],
            "hourly_paid": [nan, nan, 10.0, 60.0],
            "hourly_effective": [0.0, nan, 10.0 / 1.5, 30.0],
        }
    )
    return frame.assign(**IDENTITY)


# ----------------------------------------------------------------------- gini / lorenz


def test_gini_one_of_four_has_everything() -> None:
    # sum(i * x_i) = 4 * 1 = 4; G = 2 * 4 / (4 * 1) - 5 / 4 = 0.75
    assert metrics.gini([0, 0, 0, 1]) == pytest.approx(0.75)


def test_gini_hand_computed_and_order_free() -> None:
    # sorted [0, 0, 10, 30]: sum(i * x_i) = 3*10 + 4*30 = 150; G = 300 / 160 - 1.25 = 0.625
    assert metrics.gini([30, 0, 10, 0]) == pytest.approx(0.625)


def test_gini_edge_cases() -> None:
    assert metrics.gini([5, 5, 5]) == pytest.approx(0.0)
    assert metrics.gini([0, 0, 0]) == 0.0
    assert math.isnan(metrics.gini([]))
    assert metrics.gini([0, np.nan, 0, 0, 1]) == pytest.approx(0.75)  # NaN ignored


def test_lorenz_points_and_endpoints() -> None:
    population, earnings = metrics.lorenz([3, 0, 1])
    np.testing.assert_allclose(population, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(earnings, [0, 0, 0.25, 1])
    assert population[0] == earnings[0] == 0.0
    assert population[-1] == earnings[-1] == 1.0


def test_lorenz_degenerate_inputs() -> None:
    population, earnings = metrics.lorenz([0, 0])
    np.testing.assert_allclose(earnings, population)  # all zero: diagonal
    population, earnings = metrics.lorenz([])
    assert population.size == earnings.size == 0


def test_lorenz_area_matches_gini() -> None:
    values = np.random.default_rng(0).pareto(1.5, size=1000)
    population, earnings = metrics.lorenz(values)
    area = np.sum(np.diff(population) * (earnings[1:] + earnings[:-1]) / 2)
    assert 1 - 2 * area == pytest.approx(metrics.gini(values))


# ----------------------------------------------------------------- shares and counts


def test_top_share() -> None:
    values = list(range(1, 11))  # total 55
    assert metrics.top_share(values, 0.1) == pytest.approx(10 / 55)  # top 1 of 10
    assert metrics.top_share(values, 0.25) == pytest.approx(27 / 55)  # ceil(2.5) = 3: 10+9+8
    assert metrics.top_share(values, 0.01) == pytest.approx(10 / 55)  # at least one member
    assert metrics.top_share(values, 1.0) == pytest.approx(1.0)
    assert metrics.top_share(np.ones(100), 0.07) == pytest.approx(0.07)  # no float-noise extra
    assert math.isnan(metrics.top_share([], 0.1))
    assert math.isnan(metrics.top_share([0, 0], 0.1))
    with pytest.raises(ValueError):
        metrics.top_share(values, 0.0)


def test_zero_share() -> None:
    assert metrics.zero_share([0, 0, 10, 30]) == 0.5
    assert math.isnan(metrics.zero_share([]))


def test_hhi() -> None:
    assert metrics.hhi([3, 3, 3, 3]) == pytest.approx(0.25)  # equal shares: 1 / n
    assert metrics.hhi([0, 0, 7]) == pytest.approx(1.0)
    assert metrics.hhi([1, 0, 2, 6]) == pytest.approx(41 / 81)
    assert math.isnan(metrics.hhi([]))
    assert math.isnan(metrics.hhi([0, 0]))


def test_gini_and_hhi_sums_are_exact_on_any_machine() -> None:
    """Their sums are correctly rounded, so every machine gives the same float: checked against
    exact rational arithmetic on data where a BLAS dot product (whose kernel, and so its order
    of additions, depends on the CPU) is off in the last bit on some machines."""
    rng = np.random.default_rng(8)  # np.dot is off in the last bit here on AVX2 and AVX-512
    counts = rng.integers(0, 50, 2_000).astype(float)
    shares = counts / counts.sum()
    exact = float(sum(Fraction(p) for p in (shares * shares).tolist()))
    assert metrics.hhi(counts) == exact
    x = np.sort(rng.lognormal(0, 2, 2_000))
    products = np.arange(1, x.size + 1, dtype=float) * x
    n, total = x.size, x.sum()
    exact_sum = float(sum(Fraction(p) for p in products.tolist()))
    assert metrics.gini(x) == 2.0 * exact_sum / (n * total) - (n + 1) / n


def test_top_task_share_counts_all_workers() -> None:
    # 20 workers, 18 did nothing: top 10 % = 2 workers hold everything
    counts = [5, 3] + [0] * 18
    assert metrics.top_task_share(counts, 0.1) == pytest.approx(1.0)
    assert metrics.top_task_share(counts, 0.05) == pytest.approx(5 / 8)


def test_monthly_scaling() -> None:
    assert metrics.monthly(10.0, 15 * DAY) == pytest.approx(20.0)
    np.testing.assert_allclose(metrics.monthly([1.0, 2.0], 60 * DAY), [0.5, 1.0])
    series = metrics.monthly(pd.Series([3.0], index=[7]), 30 * DAY)
    assert isinstance(series, pd.Series) and series.loc[7] == pytest.approx(3.0)
    assert math.isnan(metrics.monthly(1.0, 0.0))


# ------------------------------------------------------------------------- latencies


def test_claim_latency_and_stats() -> None:
    tasks = make_tasks()
    latency = metrics.claim_latency(tasks)
    assert list(latency.index) == [0, 1, 2]
    np.testing.assert_allclose(latency, [10.0, 30.0, 60.0])
    stats = metrics.latency_stats(latency)
    assert list(stats) == ["mean", "median", "p90", "p99"]
    assert stats["mean"] == pytest.approx(100 / 3)
    assert stats["median"] == pytest.approx(30.0)
    assert stats["p90"] == pytest.approx(54.0)  # position 1.8: 30 + 0.8 * 30
    assert stats["p99"] == pytest.approx(59.4)  # position 1.98: 30 + 0.98 * 30


def test_latency_stats_empty() -> None:
    assert all(math.isnan(v) for v in metrics.latency_stats([]).values())


def test_fill_rate() -> None:
    assert metrics.fill_rate(make_tasks()) == pytest.approx(3 / 5)
    assert math.isnan(metrics.fill_rate(make_tasks().iloc[:0]))


def test_unpaid_minutes_per_paid_hour() -> None:
    # 60 * (3600 + 0 + 1800 + 1800) / (3600 + 1800) = 80
    assert metrics.unpaid_minutes_per_paid_hour(make_workers()) == pytest.approx(80.0)
    idle = make_workers().assign(work_time=0.0)
    assert math.isnan(metrics.unpaid_minutes_per_paid_hour(idle))


# --------------------------------------------------------------------------- summary


def test_summarize_keys_exact() -> None:
    summary = metrics.summarize(make_tasks(), make_workers(), 15 * DAY)
    assert list(summary) == metrics.summary_keys(["a", "b"])
    assert all(type(value) is float for value in summary.values())
    expected_overall = {
        "workers", "tasks_released", "tasks_claimed", "fill_rate", "earnings_gini",
        "earnings_top1_share", "earnings_top10_share", "zero_earnings_share",
        "monthly_earnings_mean", "monthly_earnings_median", "monthly_earnings_p90",
        "monthly_earnings_p99", "claim_latency_mean", "claim_latency_median",
        "claim_latency_p90", "claim_latency_p99", "hourly_paid_median",
        "hourly_effective_median", "unpaid_minutes_per_paid_hour", "top10_task_share",
        "tasks_hhi",
    }  # fmt: skip
    per_profile = {
        "monthly_earnings_mean", "monthly_earnings_median", "earnings_share",
        "population_share", "claim_latency_mean", "claim_latency_median",
        "hourly_paid_median", "hourly_effective_median",
    }  # fmt: skip
    expected = expected_overall | {f"{m}.{p}" for m in per_profile for p in ("a", "b")}
    assert set(summary) == expected


def test_summarize_values() -> None:
    # horizon 15 days: monthly factor 2, monthly earnings [0, 0, 20, 60]
    s = metrics.summarize(make_tasks(), make_workers(), 15 * DAY)
    expected = {
        "workers": 4.0,
        "tasks_released": 5.0,
        "tasks_claimed": 3.0,
        "fill_rate": 0.6,
        "earnings_gini": 0.625,
        "earnings_top1_share": 0.75,  # ceil(0.04) = 1 worker: 30 / 40
        "earnings_top10_share": 0.75,  # ceil(0.4) = 1 worker
        "zero_earnings_share": 0.5,
        "monthly_earnings_mean": 20.0,
        "monthly_earnings_median": 10.0,
        "monthly_earnings_p90": 48.0,  # position 2.7: 20 + 0.7 * 40
        "monthly_earnings_p99": 58.8,  # position 2.97: 20 + 0.97 * 40
        "claim_latency_mean": 100 / 3,
        "claim_latency_median": 30.0,
        "hourly_paid_median": 35.0,  # median of [10, 60]
        "hourly_effective_median": 10 / 1.5,  # median of [0, 6.67, 30]
        "unpaid_minutes_per_paid_hour": 80.0,
        "top10_task_share": 6 / 9,  # tasks done [1, 0, 2, 6]
        "tasks_hhi": 41 / 81,
        "monthly_earnings_mean.a": 0.0,
        "monthly_earnings_median.a": 0.0,
        "earnings_share.a": 0.0,
        "population_share.a": 0.5,
        "claim_latency_mean.a": 60.0,
        "claim_latency_median.a": 60.0,
        "hourly_effective_median.a": 0.0,
        "monthly_earnings_mean.b": 40.0,
        "monthly_earnings_median.b": 40.0,
        "earnings_share.b": 1.0,
        "population_share.b": 0.5,
        "claim_latency_mean.b": 20.0,
        "claim_latency_median.b": 20.0,
        "hourly_paid_median.b": 35.0,
        "hourly_effective_median.b": (10 / 1.5 + 30) / 2,
    }
    for key, value in expected.items():
        assert s[key] == pytest.approx(value), key
    assert math.isnan(s["hourly_paid_median.a"])  # nobody in profile a did paid work


def test_summarize_monthly_scales_with_horizon() -> None:
    short = metrics.summarize(make_tasks(), make_workers(), 15 * DAY)
    long = metrics.summarize(make_tasks(), make_workers(), 60 * DAY)
    assert long["monthly_earnings_mean"] == pytest.approx(short["monthly_earnings_mean"] / 4)
    assert long["monthly_earnings_mean.b"] == pytest.approx(10.0)
    assert long["earnings_gini"] == short["earnings_gini"]  # scale-free


def test_summarize_derives_winner_profile_when_column_missing() -> None:
    with_column = metrics.summarize(make_tasks(), make_workers(), 15 * DAY)
    without = metrics.summarize(
        make_tasks().drop(columns="winner_profile"), make_workers(), 15 * DAY
    )
    assert without["claim_latency_mean.a"] == with_column["claim_latency_mean.a"] == 60.0
    assert without["claim_latency_median.b"] == with_column["claim_latency_median.b"] == 20.0


def test_summarize_profile_without_claims_and_without_earnings() -> None:
    workers = pd.concat(
        [make_workers(), make_workers().iloc[[1]].assign(worker_id=9, profile="c")],
        ignore_index=True,
    )
    s = metrics.summarize(make_tasks(), workers, 30 * DAY)
    assert s["population_share.c"] == pytest.approx(0.2)
    assert s["earnings_share.c"] == 0.0
    assert math.isnan(s["claim_latency_mean.c"])
    assert math.isnan(s["hourly_effective_median.c"])


@pytest.mark.parametrize("empty_columns", [True, False])
def test_summarize_empty_inputs(empty_columns: bool) -> None:
    if empty_columns:
        tasks, workers = make_tasks().iloc[:0], make_workers().iloc[:0]
    else:
        tasks, workers = pd.DataFrame(), pd.DataFrame()
    s = metrics.summarize(tasks, workers, 7 * DAY)
    assert list(s) == list(metrics.SUMMARY_KEYS)
    assert s["workers"] == s["tasks_released"] == s["tasks_claimed"] == 0.0
    assert all(math.isnan(s[k]) for k in metrics.SUMMARY_KEYS[3:])
