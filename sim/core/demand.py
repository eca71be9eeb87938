"""Requesters and the work they post: batches of tasks released over the horizon.

Each requester's batch arrivals come from its own stream (a non-homogeneous Poisson process,
piecewise constant per hour, modulated by hour of day and day of week). Per-task draws (work
spread, travel, the approval draw) come from their own streams, so the same task arrivals and
the same per-task randomness are seen by every policy variant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

import numpy as np

from sim.foundation.streams import Streams
from sim.foundation.units import HOUR
from sim.scenario.schema import Scenario, horizon_days


@dataclass(frozen=True)
class Demand:
    """Batches (sorted by release time) and their tasks (grouped by batch, in batch order)."""

    type_names: list[str]
    batch_requester: np.ndarray
    batch_type: np.ndarray
    batch_region: np.ndarray  # -1 when not regional
    batch_released: np.ndarray
    batch_expires: np.ndarray  # inf when tasks never expire
    batch_reward: np.ndarray
    batch_effort: np.ndarray  # seconds of work for a typical worker
    batch_first_task: np.ndarray  # index of the batch's first task; tasks are contiguous
    batch_size: np.ndarray
    task_spread: np.ndarray  # multiplier on effort for this task
    task_travel: np.ndarray  # seconds of travel added for regional tasks
    task_approval_draw: np.ndarray  # uniform(0,1): rejected when below the worker's probability
    batch_platform: np.ndarray  # index of the batch's platform in the market (0: the only one)

    @property
    def n_tasks(self) -> int:
        """Number of tasks posted over the horizon."""
        return len(self.task_spread)


def hourly_intensity(scn: Scenario) -> np.ndarray:
    """Relative batch rate per hour of the horizon (mean 1 over a week)."""
    req = scn.requesters
    hours = np.arange(horizon_days(scn) * 24)
    by_hour = np.asarray(req.hour_of_day) / np.mean(req.hour_of_day)
    by_day = np.asarray(req.day_of_week) / np.mean(req.day_of_week)
    return by_hour[hours % 24] * by_day[(hours // 24) % 7]


def _apply_minimum_pay(
    scn: Scenario, streams: Streams, reward: np.ndarray, effort: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Raise rewards below the platform's minimum pay per hour of effort (in place) and return
    the batch sizes requesters still post: each task is kept with probability
    (new reward / old reward) ** -elasticity, using one uniform draw per task from its own
    stream so variants differing only in the minimum stay paired."""
    minimum = scn.platform.minimum_pay_rate
    if minimum is None or len(size) == 0:
        return size
    floor = np.ceil(minimum * effort / HOUR * 100 - 1e-9) / 100
    raised = np.maximum(reward, floor)
    elasticity = scn.platform.demand_elasticity
    with np.errstate(divide="ignore"):
        ratio = np.where(reward > 0, raised / np.where(reward > 0, reward, 1), np.inf)
    keep_p = np.where(np.isfinite(ratio), ratio**-elasticity, 0.0 if elasticity > 0 else 1.0)
    reward[:] = raised
    draws = streams.rng("demand_response").random(int(size.sum()))
    kept = draws < np.repeat(keep_p, size)
    return np.add.reduceat(kept, np.concatenate([[0], np.cumsum(size)[:-1]])).astype(int)


def build_demand(scn: Scenario, streams: Streams) -> Demand:
    """Draw every requester's batches and every task's own randomness over the horizon."""
    req = scn.requesters
    type_names = list(scn.task_types)
    mix_types = [type_names.index(t) for t in req.task_mix]
    mix_p = np.asarray(list(req.task_mix.values()), dtype=float)
    mix_p = mix_p / mix_p.sum()  # shares sum to 1 within the validation tolerance
    rng = streams.rng("requester_activity")
    if req.activity_draw == "quantiles":  # the same set of sizes every run, shuffled
        weights = rng.permutation(req.activity.ppf((np.arange(req.count) + 0.5) / req.count))
    else:
        weights = req.activity.sample(rng, req.count)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(req.count, 1 / req.count)
    intensity = hourly_intensity(scn)
    starts = np.arange(len(intensity)) * HOUR
    rows: list[tuple[np.ndarray, ...]] = []
    for r in range(req.count):
        rng = streams.rng("requester", r)
        lam = scn.batches_per_day / 24 * weights[r] * intensity
        counts = rng.poisson(lam)
        total = int(counts.sum())
        times = np.repeat(starts, counts) + rng.random(total) * HOUR
        kinds = np.asarray(mix_types)[rng.choice(len(mix_types), size=total, p=mix_p)]
        rows.append((np.full(total, r), kinds, times))
    requester, kind, released = (np.concatenate(c) for c in zip(*rows, strict=True))
    keep = released < scn.horizon
    order = np.lexsort((requester[keep], released[keep]))
    requester, kind, released = requester[keep][order], kind[keep][order], released[keep][order]
    n_batches = len(released)
    reward, effort, size = np.zeros(n_batches), np.zeros(n_batches), np.zeros(n_batches, int)
    region, expires = np.full(n_batches, -1), np.full(n_batches, np.inf)
    region_names = list(scn.regions)
    region_p = np.asarray(list(scn.regions.values()), dtype=float)
    brng = streams.rng("batches")
    for t, name in enumerate(type_names):
        tt = scn.task_types[name]
        idx = np.flatnonzero(kind == t)
        k = len(idx)
        effort[idx] = tt.effort.sample(brng, k)
        if tt.reward is not None:
            reward[idx] = tt.reward.sample(brng, k)
        else:
            reward[idx] = tt.pay_rate.sample(brng, k) * effort[idx] / HOUR
        size[idx] = np.maximum(1, np.floor(tt.batch_size.sample(brng, k))).astype(int)
        if tt.regional:
            region[idx] = brng.choice(len(region_names), size=k, p=region_p / region_p.sum())
        if tt.expiry is not None:
            expires[idx] = released[idx] + tt.expiry
    reward = np.round(reward, 2)  # platforms pay in cents
    size = _apply_minimum_pay(scn, streams, reward, effort, size)
    keep = size > 0
    requester, kind, released, reward, effort, size, region, expires = (
        a[keep] for a in (requester, kind, released, reward, effort, size, region, expires)
    )
    n_batches = len(released)
    first = np.concatenate([[0], np.cumsum(size)])[:-1].astype(np.int64)  # none when empty
    n_tasks = int(size.sum())
    task_batch = np.repeat(np.arange(n_batches), size)
    trng = streams.rng("tasks")
    spread = np.ones(n_tasks)
    travel = np.zeros(n_tasks)
    for t, name in enumerate(type_names):
        tt = scn.task_types[name]
        idx = np.flatnonzero(kind[task_batch] == t)
        spread[idx] = tt.effort_spread.sample(trng, len(idx))
        if tt.travel is not None:
            travel[idx] = tt.travel.sample(trng, len(idx))
    return Demand(
        type_names=type_names,
        batch_requester=requester,
        batch_type=kind,
        batch_region=region,
        batch_released=released,
        batch_expires=expires,
        batch_reward=reward,
        batch_effort=effort,
        batch_first_task=first,
        batch_size=size,
        task_spread=spread,
        task_travel=travel,
        task_approval_draw=streams.rng("approval").random(n_tasks),
        batch_platform=np.zeros(n_batches, dtype=np.int64),
    )


def build_market_demand(scn: Scenario, streams: Streams) -> Demand:
    """The demand of every platform of the market, one after the other (batch, task and
    requester numbers run on across platforms). A platform's requesters draw from streams of
    their own, so a lever on one platform (a minimum pay) leaves the others' demand alone;
    without ``platforms``, :func:`build_demand` of the scenario."""
    if scn.platforms is None:
        return build_demand(scn, streams)
    market, parts = scn.market(), []
    for i, spec in enumerate(market):
        view = scn.model_copy(update={"platform": spec.platform, "requesters": spec.requesters})
        part = build_demand(view, streams.within("platform", i))
        parts.append(replace(part, batch_platform=np.full(len(part.batch_size), i)))
    tasks = np.cumsum([0] + [p.n_tasks for p in parts])
    requesters = np.cumsum([0] + [s.requesters.count for s in market])
    fields = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
              for f in dataclasses.fields(Demand) if f.name != "type_names"}
    fields["batch_first_task"] = np.concatenate(
        [p.batch_first_task + tasks[i] for i, p in enumerate(parts)])
    fields["batch_requester"] = np.concatenate(
        [p.batch_requester + requesters[i] for i, p in enumerate(parts)])
    return Demand(type_names=parts[0].type_names, **fields)
