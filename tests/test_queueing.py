"""Degenerate scenarios reduce to textbook queues and must match them (DESIGN.md, "Validation").

Statistical tolerance. Every comparison with theory is a z-test with a bound of 4 standard
errors, the standard error being *measured*, never guessed:

* M/M/c: waits of consecutive tasks are autocorrelated, so the standard error comes from
  independent replications (different seeds): each replication drops a warm-up (tasks
  released in the first day, the queue starts empty) and the tail (tasks released in the
  last 6 hours, when a worker refuses a task it cannot finish before the horizon), and gives
  one mean; SE = sample standard deviation of those means / sqrt(replications). We assert
  |mean of the replication means - theory| < 4 * SE; with 4 SE a correct model fails with
  probability ~6e-5 per check, and the replication counts keep SE at a few % of the value.
* Race of memoryless refreshes: tasks released while every worker is idle are independent
  races, so pooled counts are binomial (SE = sqrt(p(1-p)/N)) and pooled latencies are
  i.i.d. (SE = sd/sqrt(N)); a KS test must not reject the exponential law at the 1 % level.

All seeds are fixed, so the tests are deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.analysis import queueing

DAY = 86400.0
Z = 4.0  # bound in standard errors
MEAN_EFFORT = 600.0  # seconds: a day is 144 mean service times, a sensible warm-up


# ----------------------------------------------------------------------- formulas


def test_erlang_c_known_values() -> None:
    """Erlang C against hand-checked values and limiting cases."""
    assert queueing.erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert queueing.erlang_c(2, 1.0) == pytest.approx(1 / 3)  # a^2/2*2 / (1 + 1 + 1)
    # direct formula for c=5, a=4
    c, a = 5, 4.0
    top = a**c / math.factorial(c) * c / (c - a)
    direct = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    assert queueing.erlang_c(c, a) == pytest.approx(direct, rel=1e-12)
    assert queueing.erlang_c(10, 0.0) == 0.0
    with pytest.raises(ValueError):
        queueing.erlang_c(3, 3.0)


def test_mmc_mean_wait_mm1() -> None:
    """M/M/1: W_q = rho / (mu - lambda)."""
    lam, mu = 0.8, 1.0
    assert queueing.mmc_mean_wait(lam, mu, 1) == pytest.approx(0.8 / 0.2)
    assert queueing.mmc_wait_survival(0.0, lam, mu, 1) == pytest.approx(0.8)


def test_race_formulas() -> None:
    """Win shares proportional to rates; mean of the minimum = 1 / summed rate."""
    shares = queueing.race_win_shares([1.0, 3.0])
    np.testing.assert_allclose(shares, [0.25, 0.75])
    assert queueing.race_latency_mean([1.0, 3.0]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        queueing.race_win_shares([])


# ---------------------------------------------------------------------------- M/M/c


def mmc_scenario(c: int, rho: float, days: int) -> dict[str, Any]:
    """M/M/c as a market: ``c`` identical always-online workers, instant reaction, exponential
    effort, single-task Poisson arrivals (one requester, flat profiles), no expiry, no
    rejection. The claim latency is the M/M/c waiting time in queue."""
    arrival_rate = rho * c / MEAN_EFFORT
    return {
        "name": f"mm{c}",
        "horizon": f"{days}d",
        "workers": c,
        "profiles": {
            "worker": {
                "share": 1.0,
                "always_online": True,
                "discovery": {"mode": "notification", "reaction": 0},
            }
        },
        "task_types": {
            "task": {"reward": 1.0, "effort": {"dist": "exponential", "mean": MEAN_EFFORT}}
        },
        "requesters": {
            "count": 1,
            "batches_per_day": arrival_rate * DAY,
            "task_mix": {"task": 1.0},
        },
    }


@pytest.mark.parametrize(
    ("c", "rho", "days", "replications"),
    [(5, 0.8, 12, 30), (10, 0.7, 10, 20)],
    ids=["c5-rho0.8", "c10-rho0.7"],
)
def test_mmc_matches_erlang_c(c: int, rho: float, days: int, replications: int) -> None:
    """Mean claim latency and probability of waiting match Erlang C within 4 SE."""
    scn = sim.load_scenario(mmc_scenario(c, rho, days))
    waits, waited = [], []
    for r in range(replications):
        tasks = sim.run(scn, seed=1000 + r, replication=r).tasks
        window = (tasks["released_at"] >= DAY) & (tasks["released_at"] < scn.horizon - DAY / 4)
        tasks = tasks[window]
        assert tasks["claimed_at"].notna().all()  # nothing censored in the analysis window
        latency = (tasks["claimed_at"] - tasks["released_at"]).to_numpy()
        waits.append(latency.mean())
        waited.append((latency > 0).mean())
    lam, mu = rho * c / MEAN_EFFORT, 1 / MEAN_EFFORT
    expected = {
        "mean wait": (np.asarray(waits), queueing.mmc_mean_wait(lam, mu, c)),
        "P(wait)": (np.asarray(waited), queueing.erlang_c(c, lam / mu)),
    }
    for what, (values, theory) in expected.items():
        mean = values.mean()
        se = values.std(ddof=1) / math.sqrt(len(values))
        assert se < 0.05 * theory, f"{what}: SE {se:.4g} too large for a sharp test"
        assert abs(mean - theory) < Z * se, (
            f"M/M/{c} rho={rho} {what}: simulated {mean:.4g} vs Erlang C {theory:.4g}"
            f" (SE {se:.3g}, z = {(mean - theory) / se:.2f})"
        )


# ------------------------------------------------------- FCFS with memoryless discovery

#: profile -> (number of workers, mean refresh interval in seconds)
RACERS = {"fast": (2, 20.0), "medium": (3, 60.0), "slow": (5, 300.0)}


def race_scenario(profiles: dict[str, tuple[int, float]], interval_dist: str,
                  days: int) -> dict[str, Any]:
    """Always-online workers refreshing with the given intervals; rare, 1-second tasks (one
    every 10 minutes on average) so that workers are almost always idle."""
    n = sum(k for k, _ in profiles.values())
    return {
        "name": "race",
        "horizon": f"{days}d",
        "workers": n,
        "profiles": {
            name: {
                "share": k / n,
                "always_online": True,
                "discovery": {
                    "mode": "refresh",
                    "interval": (
                        {"dist": "exponential", "mean": mean}
                        if interval_dist == "exponential"
                        else {"dist": "constant", "value": mean}
                    ),
                },
            }
            for name, (k, mean) in profiles.items()
        },
        "task_types": {"task": {"reward": 1.0, "effort": 1.0}},
        "requesters": {"count": 1, "batches_per_day": 144, "task_mix": {"task": 1.0}},
    }


def idle_races(scenario: dict[str, Any], seeds: range) -> pd.DataFrame:
    """Tasks released while every worker was idle (all earlier tasks already completed),
    pooled over ``seeds``: each is an independent race between all the workers."""
    frames = []
    for seed in seeds:
        tasks = sim.run(scenario, seed=seed).tasks.sort_values("released_at")
        done_before = tasks["completed_at"].fillna(np.inf).cummax().shift(1, fill_value=-np.inf)
        frames.append(tasks[(done_before < tasks["released_at"]) & tasks["claimed_at"].notna()])
    races = pd.concat(frames, ignore_index=True)
    return races.assign(latency=races["claimed_at"] - races["released_at"])


@pytest.fixture(scope="module")
def memoryless_races() -> pd.DataFrame:
    """Idle-start races of RACERS with exponential refresh, pooled over 6 seeds x 20 days."""
    races = idle_races(race_scenario(RACERS, "exponential", days=20), range(6))
    assert len(races) > 15_000
    return races


def test_fcfs_win_shares_proportional_to_discovery_rate(memoryless_races: pd.DataFrame) -> None:
    """Each profile wins count * rate / total rate of the races (binomial z within 4 SE,
    and a chi-square goodness-of-fit test not rejecting at 1 %)."""
    names = list(RACERS)
    rates = [k / mean for k, mean in RACERS.values()]
    expected = queueing.race_win_shares(rates)
    counts = memoryless_races["winner_profile"].astype(str).value_counts()
    observed = np.array([counts.get(name, 0) for name in names])
    n = observed.sum()
    for name, obs, p in zip(names, observed, expected, strict=True):
        se = math.sqrt(p * (1 - p) / n)
        assert abs(obs / n - p) < Z * se, f"{name}: share {obs / n:.4f} vs {p:.4f} (SE {se:.4f})"
    assert stats.chisquare(observed, expected * n).pvalue > 0.01


def test_fcfs_latency_is_exponential_with_summed_rate(memoryless_races: pd.DataFrame) -> None:
    """Claim latency ~ Exponential(sum of rates): mean within 4 SE, KS not rejecting at 1 %."""
    rates = [k / mean for k, mean in RACERS.values()]
    theory = queueing.race_latency_mean(rates)
    latency = memoryless_races["latency"].to_numpy()
    se = latency.std(ddof=1) / math.sqrt(len(latency))
    assert abs(latency.mean() - theory) < Z * se, (
        f"mean latency {latency.mean():.4g} vs {theory:.4g} (SE {se:.3g})"
    )
    assert stats.kstest(latency, "expon", args=(0, theory)).pvalue > 0.01


def test_periodic_refresh_latency_is_uniform() -> None:
    """One worker refreshing every T seconds, tasks arriving at Poisson times: the claim
    latency of a task released while the worker is idle is Uniform(0, T)."""
    period = 60.0
    races = idle_races(race_scenario({"solo": (1, period)}, "constant", days=20), range(2))
    latency = races["latency"].to_numpy()
    assert latency.min() >= 0 and latency.max() <= period + 1e-9
    se = period / math.sqrt(12 * len(latency))
    assert abs(latency.mean() - period / 2) < Z * se
    assert stats.kstest(latency, "uniform", args=(0, period)).pvalue > 0.01
