"""The minimum pay per hour of effort (``platform.minimum_pay_rate``) and the requesters'
response to it (``platform.demand_elasticity``), as ``sim.core.demand._apply_minimum_pay``
applies them to the drawn batches: rewards below the floor are raised to it, rounded up to the
cent; each task is kept with probability (new / old reward) ** -elasticity, checked against the
binomial standard error; elasticity 0 keeps every task; variants share the same uniform draw
per task, so a stricter minimum only ever removes tasks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sim
from sim.core.demand import _apply_minimum_pay
from sim.foundation.streams import Streams
from sim.foundation.units import HOUR
from sim.scenario.schema import Scenario

Z = 5.0
"""Standard errors allowed for a keep rate (fixed seed: deterministic)."""


@pytest.fixture
def platform(small_scenario: dict[str, Any]) -> Any:
    """``platform(minimum, elasticity)``: the small scenario with these platform levers."""

    def make(minimum: float | None, elasticity: float = 0.0) -> Scenario:
        return sim.override(sim.load_scenario(small_scenario), {
            "platform.minimum_pay_rate": minimum, "platform.demand_elasticity": elasticity})

    return make


def apply(scn: Scenario, reward: list[float], effort: list[float], size: list[int],
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rewards after the adjustment (changed in place) and the batch sizes kept."""
    rewards = np.asarray(reward, dtype=float)
    kept = _apply_minimum_pay(scn, Streams(seed), rewards, np.asarray(effort, dtype=float),
                              np.asarray(size, dtype=np.int64))
    return rewards, kept


def test_rewards_are_raised_to_the_floor_rounded_up_to_the_cent(platform: Any) -> None:
    """6 per hour: 60 s pay at least 0.10 (exactly, despite float rounding), 100 s 0.17
    (0.1667 rounded up), 37 s 0.07; rewards above their floor are left alone."""
    effort = [60.0, 100.0, 600.0, 3600.0, 37.0, 600.0]
    reward = [0.05, 0.5, 0.2, 10.0, 0.0, 1.0]
    raised, kept = apply(platform(6.0), reward, effort, [3] * 6)
    assert raised == pytest.approx([0.10, 0.5, 1.0, 10.0, 0.07, 1.0], abs=1e-12)
    floor = 6.0 * np.asarray(effort) / HOUR
    assert (raised >= floor - 1e-9).all() and (raised >= reward).all()
    assert (kept == 3).all()  # elasticity 0


def test_no_minimum_changes_nothing(platform: Any) -> None:
    raised, kept = apply(platform(None, 2.0), [0.01, 0.0], [3600.0, 60.0], [5, 7])
    assert raised.tolist() == [0.01, 0.0] and kept.tolist() == [5, 7]


def test_elasticity_zero_keeps_every_task(platform: Any) -> None:
    """Even a reward of 0 raised to the floor (an infinite ratio) keeps its tasks."""
    _, kept = apply(platform(50.0, 0.0), [0.01, 0.0, 5.0], [3600.0, 600.0, 60.0],
                    [1000, 1000, 1000])
    assert kept.tolist() == [1000, 1000, 1000]


@pytest.mark.parametrize("elasticity", [0.5, 1.0, 2.0])
def test_keep_rate_is_the_ratio_to_the_power_of_minus_elasticity(
        platform: Any, elasticity: float) -> None:
    """At 6 per hour, 10 min of effort pays 1.00: rewards of 0.50, 0.25 and 0.80 are raised
    2, 4 and 1.25 times, their tasks kept with probability 2**-e, 4**-e and 1.25**-e; a reward
    already at the floor keeps every task, a reward of 0 none."""
    n = 100_000
    reward = [0.5, 0.25, 0.8, 2.0, 0.0]
    ratio = np.array([2.0, 4.0, 1.25, 1.0, math.inf])
    _, kept = apply(platform(6.0, elasticity), reward, [600.0] * len(reward),
                    [n] * len(reward), seed=3)
    p = ratio**-elasticity
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(kept / n - p) <= Z * se), (kept / n, p)
    assert kept[3] == n and kept[4] == 0


def test_variants_share_one_uniform_draw_per_task(platform: Any) -> None:
    """Task i of the posted batches is kept when the i-th draw of the ``demand_response``
    stream is below its keep probability, whatever the minimum: a stricter minimum or a larger
    elasticity removes tasks, never swaps them (paired variants)."""
    n, seed = 50_000, 7
    reward, effort, size = [0.3, 0.6, 0.9], [600.0, 600.0, 600.0], [n, n, n]
    kept = {(m, e): apply(platform(m, e), reward, effort, size, seed)[1]
            for m in (3.0, 4.0, 6.0) for e in (1.0, 2.0)}
    assert (kept[6.0, 1.0] <= kept[4.0, 1.0]).all() and (kept[4.0, 1.0] <= kept[3.0, 1.0]).all()
    assert (kept[6.0, 2.0] <= kept[6.0, 1.0]).all()
    draws = Streams(seed).rng("demand_response").random(3 * n).reshape(3, n)
    p = (np.maximum(reward, 1.0) / np.asarray(reward)) ** -1.0  # 6 per hour: floor 1.00
    assert kept[6.0, 1.0].tolist() == (draws < p[:, None]).sum(axis=1).tolist()
    assert (apply(platform(6.0, 1.0), reward, effort, size, seed)[1] == kept[6.0, 1.0]).all()
