"""One simulation run: requesters, workers and the platform in a SimPy environment.

Workers and requesters are SimPy processes: a worker's process walks through its sessions
(online, offline), a requester's process releases its batches. Claims, work and expiry are
event callbacks on the platform; arrivals at the board come from the discovery engine.
:func:`simulate` returns plain records (:class:`~sim.core.records.RunRecords`); the core does
no I/O and builds no tables. Progress is reported through an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

import numpy as np
import simpy

from sim.core.clock import Clock, delay_until, events_scheduled
from sim.core.demand import build_demand
from sim.core.discovery import ENGINES
from sim.core.platform import Platform
from sim.core.population import DISCOVERY_MODES, Population, build_population
from sim.core.records import RunRecords
from sim.core.rules import build_rule
from sim.core.supply import AdaptivePlatform
from sim.foundation.streams import Streams
from sim.foundation.units import DAY
from sim.scenario.schema import Scenario

ProgressCallback = Callable[[float], None]


def _worker_life(
    env: simpy.Environment, platform: Platform, w: int, starts: list[float], ends: list[float]
) -> Generator[simpy.Event, Any, None]:
    """A worker's life: its sessions, one after the other."""
    for start, end in zip(starts, ends, strict=True):
        yield env.timeout(delay_until(env, start))
        length = end - start
        platform.go_online(w, env.now + length)  # the exact float time the session ends
        yield env.timeout(length)
        platform.go_offline(w)


def _requester_life(
    env: simpy.Environment, platform: Platform, batches: list[int], times: list[float]
) -> Generator[simpy.Event, Any, None]:
    """A requester posting its batches at their release times."""
    for b, t in zip(batches, times, strict=True):
        yield env.timeout(delay_until(env, t))
        platform.release(b)


def _midnights(env: simpy.Environment, platform: Platform) -> Generator[simpy.Event, Any, None]:
    """Daily caps reset at midnight."""
    while True:
        yield env.timeout(DAY)
        platform.new_day()


def _groups(keys: np.ndarray) -> list[tuple[int, int, int]]:
    """(key, begin, end) of the runs of equal values in a sorted array."""
    if len(keys) == 0:
        return []
    cut = np.flatnonzero(np.diff(keys)) + 1
    begins = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(keys)]])
    return list(zip(keys[begins].tolist(), begins.tolist(), ends.tolist(), strict=True))


def _workers(env: simpy.Environment, platform: Platform, pop: Population) -> None:
    """Start every worker's process: its planned sessions one after the other, or (supply
    adapting) the adaptive life that may skip, cut or extend them, and register or leave."""
    if isinstance(platform, AdaptivePlatform):
        platform.start()
        spans = {w: (i, j) for w, i, j in _groups(pop.session_worker)}
        for w in range(pop.size):  # candidates too: their process registers them
            if w in spans or w >= pop.initial:
                env.process(platform.worker_life(w, *spans.get(w, (0, 0))))
        return
    starts, ends = pop.session_start.tolist(), pop.session_end.tolist()
    for w, i, j in _groups(pop.session_worker):
        env.process(_worker_life(env, platform, w, starts[i:j], ends[i:j]))


def simulate(scn: Scenario, seed: int, progress: ProgressCallback | None = None) -> RunRecords:
    """Simulate ``scn`` once with ``seed``; ``progress`` is called with the fraction of the
    horizon simulated so far."""
    streams = Streams(seed)
    pop = build_population(scn, streams)
    demand = build_demand(scn, streams)
    env = Clock()
    rule = build_rule(scn.platform.allocation)
    platform_class = AdaptivePlatform if scn.adaptive else Platform
    platform = platform_class(env, scn, pop, demand, rule, streams.rng("allocation"))
    engine = ENGINES[scn.engine](env, scn, platform, streams)
    platform.discovery = engine
    _workers(env, platform, pop)
    order = np.argsort(demand.batch_requester, kind="stable")
    released = demand.batch_released.tolist()
    for _, i, j in _groups(demand.batch_requester[order]):
        batches = order[i:j].tolist()
        env.process(_requester_life(env, platform, batches, [released[b] for b in batches]))
    if scn.platform.daily_cap is not None or scn.adaptive:
        env.process(_midnights(env, platform))
    step = max(scn.horizon / 100, DAY / 4) if progress else scn.horizon
    until = 0.0
    while until < scn.horizon:
        until = min(until + step, scn.horizon)
        env.run(until=until)
        if progress:
            progress(until / scn.horizon)
    platform.finish()
    batch = np.repeat(np.arange(len(demand.batch_size)), demand.batch_size)
    modes = np.asarray([DISCOVERY_MODES.index(d.mode) for d in pop.discovery_specs], dtype=int)
    records = RunRecords(
        profile_names=pop.profile_names,
        type_names=demand.type_names,
        region_names=pop.region_names,
        discovery_modes=list(DISCOVERY_MODES),
        task_batch=batch,
        task_requester=demand.batch_requester[batch],
        task_type=demand.batch_type[batch],
        task_region=demand.batch_region[batch],
        task_reward=demand.batch_reward[batch],
        task_effort=demand.batch_effort[batch],
        task_released=demand.batch_released[batch],
        task_expires=demand.batch_expires[batch],
        task_claimed=np.asarray(platform.claimed_at, dtype=float),
        task_started=np.asarray(platform.started_at, dtype=float),
        task_completed=np.asarray(platform.completed_at, dtype=float),
        task_worker=np.asarray(platform.worker, dtype=np.int64),
        task_status=np.asarray(platform.status, dtype=np.int64),
        worker_profile=pop.profile,
        worker_region=pop.region,
        worker_discovery=modes[pop.discovery],
        worker_speed=pop.speed,
        worker_rejection=pop.rejection_probability,
        worker_reservation=pop.reservation_pay,
        worker_earnings=np.asarray(platform.earnings, dtype=float),
        worker_work_time=np.asarray(platform.work_time, dtype=float),
        worker_unpaid_work=np.asarray(platform.unpaid_work, dtype=float),
        session_worker=pop.session_worker,
        session_start=pop.session_start,
        session_end=pop.session_end,
        events=events_scheduled(env),
        polls=getattr(engine, "polls", 0),
    )
    return _adaptive_records(records, platform) if isinstance(platform, AdaptivePlatform) \
        else records


def _adaptive_records(rec: RunRecords, platform: AdaptivePlatform) -> RunRecords:
    """The records of an adaptive run: only the workers who registered (candidates who never
    came have no rows; ids are renumbered in order), with their registration and leaving
    times, and the sessions as they happened (skipped, cut short or extended)."""
    keep = np.asarray(platform.joined)
    new_id = np.cumsum(keep) - 1
    sessions = np.array(platform.sessions, dtype=float).reshape(-1, 3)
    worker = new_id[sessions[:, 0].astype(np.int64)]
    order = np.lexsort((sessions[:, 1], worker))
    claimed = rec.task_worker >= 0
    task_worker = np.where(claimed, new_id[np.maximum(rec.task_worker, 0)], -1)
    per_worker = {name: getattr(rec, name)[keep] for name in (
        "worker_profile", "worker_region", "worker_discovery", "worker_speed",
        "worker_rejection", "worker_reservation", "worker_earnings", "worker_work_time",
        "worker_unpaid_work")}
    return replace(rec, **per_worker, task_worker=task_worker.astype(np.int64),
                   session_worker=worker[order], session_start=sessions[order, 1],
                   session_end=sessions[order, 2],
                   worker_joined=np.asarray(platform.joined_at)[keep],
                   worker_left=np.asarray(platform.left_at)[keep])
