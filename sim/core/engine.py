"""One simulation run: requesters, workers and the platform in a SimPy environment.

Requesters are SimPy processes that release their batches; workers' planned sessions (online,
offline) are one chain of events in time order (with adaptive supply, a process per worker,
which may skip, cut or extend them). Claims, work and expiry are event callbacks on the
platform; arrivals at the board come from the discovery engine.
:func:`simulate` returns plain records (:class:`~sim.core.records.RunRecords`); the core does
no I/O and builds no tables. Progress is reported through an optional callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

import numpy as np
import simpy

from sim.core.board import NO_CAP, Board, Members
from sim.core.clock import Clock, delay_until, events_scheduled
from sim.core.demand import Demand, build_market_demand
from sim.core.discovery import ENGINES, Arrivals
from sim.core.platform import Platform
from sim.core.population import (
    DISCOVERY_MODES,
    Population,
    active_first,
    build_population,
    reordered,
)
from sim.core.records import RunRecords
from sim.core.rules import build_rule
from sim.core.supply import AdaptivePlatform
from sim.foundation.garbage import collector_paused, thawed_after
from sim.foundation.streams import Streams
from sim.foundation.units import DAY
from sim.scenario.schema import Scenario

ProgressCallback = Callable[[float], None]


class _Sessions:
    """Every worker's planned sessions (fixed supply) as one chain of events in time order.

    Each start and end happens at the float time a process per worker would reach (a timeout
    of the delay to the start, then one of the session's length), and workers going online
    at the same time do so in worker order, as their processes would; but only the next
    session event is ever on SimPy's queue, not one per worker with sessions left (at full
    market size, tens of thousands of pending timeouts and generator frames).
    """

    def __init__(self, env: Clock, platform: Platform, pop: Population) -> None:
        self.env, self.platform = env, platform
        times, workers, ends = [], [], []  # ends: the session's end for a start, NaN for an end
        starts, stops = pop.session_start.tolist(), pop.session_end.tolist()
        for w, i, j in _groups(pop.session_worker):
            now = 0.0
            for start, end in zip(starts[i:j], stops[i:j], strict=True):
                now += max(start - now, 0.0)  # as SimPy adds a timeout's delay to now
                times.append(now)
                workers.append(w)
                now += end - start
                ends.append(now)
                times.append(now)
                workers.append(w)
                ends.append(math.nan)
        order = np.argsort(np.asarray(times), kind="stable")  # ties: worker, then session order
        self.times = np.asarray(times)[order].tolist()
        self.workers = np.asarray(workers, dtype=np.int64)[order].tolist()
        self.ends = np.asarray(ends)[order].tolist()
        self.next = 0
        if self.times:
            env.call_at(self.times[0], self._happen, None)

    def _happen(self, _: None) -> None:
        """The next session starts or ends; the one after is scheduled."""
        i = self.next
        self.next = i + 1
        end = self.ends[i]
        if end == end:
            self.platform.go_online(self.workers[i], end)
        else:
            self.platform.go_offline(self.workers[i])
        if i + 1 < len(self.times):
            self.env.call_at(self.times[i + 1], self._happen, None)


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


def _workers(env: Clock, platform: Platform, pop: Population) -> None:
    """Start the workers: their planned sessions as one chain of events, or (supply adapting)
    a process per worker, the adaptive life that may skip, cut or extend them, and register
    or leave."""
    if isinstance(platform, AdaptivePlatform):
        platform.start()
        spans = {w: (i, j) for w, i, j in _groups(pop.session_worker)}
        for w in range(pop.size):  # candidates too: their process registers them
            if w in spans or w >= pop.initial:
                env.process(platform.worker_life(w, *spans.get(w, (0, 0))))
        return
    _Sessions(env, platform, pop)


def _boards(env: Clock, scn: Scenario, platform: Platform, pop: Population, streams: Streams
            ) -> list[Board]:
    """One board per platform of the market, each with its rule and discovery engine (their
    streams within the platform's own when there are several, so that changing one platform
    leaves every other's draws alone); a single platform draws from the run's streams."""
    arrivals = Arrivals(env) if scn.engine == "race" else None
    if pop.platform_of is not None:  # the worker of each registration, and its app count
        apps = np.diff(pop.platform_offsets)
        owner = np.repeat(np.arange(pop.size), apps)
    boards = []
    for i, spec in enumerate(scn.market()):
        own = streams if scn.platforms is None else streams.within("platform", i)
        if pop.platform_of is None:
            members, view = np.arange(pop.size), pop
        else:
            members = owner[pop.platform_of == i]
            view = Members(pop, members, apps[members])
        board = Board(platform, i, spec, members, view, build_rule(spec.platform.allocation),
                      own.rng("allocation"))
        board.discovery = ENGINES[scn.engine](env, scn, board, own, arrivals)
        boards.append(board)
    platform.connect(boards, pop.platform_offsets, pop.platform_of)
    return boards


def simulate(scn: Scenario, seed: int, progress: ProgressCallback | None = None) -> RunRecords:
    """Simulate ``scn`` once with ``seed``; ``progress`` is called with the fraction of the
    horizon simulated so far."""
    streams = Streams(seed)
    # the setup makes millions of containers, no garbage, that live as long as the run
    with collector_paused(freeze=True):
        pop = build_population(scn, streams)
        numbering = active_first(pop)  # inside the run, the workers who come online first
        inner = pop if numbering is None else reordered(pop, numbering)
        demand = build_market_demand(scn, streams)
        env = Clock()
        platform_class = AdaptivePlatform if scn.adaptive else Platform
        platform = platform_class(env, scn, inner, demand)
        boards = _boards(env, scn, platform, inner, streams)
        _workers(env, platform, inner)
        order = np.argsort(demand.batch_requester, kind="stable")
        released = demand.batch_released.tolist()
        for _, i, j in _groups(demand.batch_requester[order]):
            batches = order[i:j].tolist()
            env.process(_requester_life(env, platform, batches, [released[b] for b in batches]))
        if any(board.daily_cap < NO_CAP for board in boards) or scn.adaptive:
            env.process(_midnights(env, platform))
    step = max(scn.horizon / 100, DAY / 4) if progress else scn.horizon
    until = 0.0
    with thawed_after():  # the setup's state, frozen until the records are taken
        while until < scn.horizon:
            until = min(until + step, scn.horizon)
            env.run(until=until)
            if progress:
                progress(until / scn.horizon)
        platform.finish()
        return _records(scn, pop, demand, env, platform, boards, numbering)


def _records(scn: Scenario, pop: Population, demand: Demand, env: Clock, platform: Platform,
             boards: list[Board], numbering: np.ndarray | None) -> RunRecords:
    """What a finished run hands to the results layer, workers numbered as in ``pop``."""
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
        task_reward=np.asarray(platform.task_reward),  # the batch's reward, per task
        task_effort=demand.batch_effort[batch],
        task_released=demand.batch_released[batch],
        task_expires=demand.batch_expires[batch],
        task_claimed=np.asarray(platform.claimed_at, dtype=float),
        task_started=np.asarray(platform.started_at, dtype=float),
        task_completed=np.asarray(platform.completed_at, dtype=float),
        task_worker=_worker_ids(np.asarray(platform.worker, dtype=np.int64), numbering),
        task_status=np.asarray(platform.status, dtype=np.int64),
        worker_profile=pop.profile,
        worker_region=pop.region,
        worker_discovery=modes[pop.discovery],
        worker_speed=pop.speed,
        worker_rejection=pop.rejection_probability,
        worker_reservation=pop.reservation_pay,
        worker_earnings=_by_worker_id(platform.earnings, numbering),
        worker_work_time=_by_worker_id(platform.work_time, numbering),
        worker_unpaid_work=_by_worker_id(platform.unpaid_work, numbering),
        session_worker=pop.session_worker,
        session_start=pop.session_start,
        session_end=pop.session_end,
        events=events_scheduled(env),
        polls=sum(getattr(board.discovery, "polls", 0) for board in boards),
        **_market_records(scn, demand, platform, numbering),
    )
    return _adaptive_records(records, platform) if isinstance(platform, AdaptivePlatform) \
        else records


def _worker_ids(internal: np.ndarray, numbering: np.ndarray | None) -> np.ndarray:
    """The worker ids of the run's internal worker numbers (-1, no worker, stays -1)."""
    if numbering is None:
        return internal
    return np.where(internal >= 0, numbering[np.maximum(internal, 0)], -1)


def _by_worker_id(values: list[float], numbering: np.ndarray | None) -> np.ndarray:
    """Per-worker values of the run (internal numbers) in worker id order."""
    inner = np.asarray(values, dtype=float)
    if numbering is None:
        return inner
    out = np.empty_like(inner)
    out[numbering] = inner
    return out


def _market_records(scn: Scenario, demand: Demand, platform: Platform,
                    numbering: np.ndarray | None) -> dict[str, object]:
    """What a market of several platforms adds to the records: each task's platform and each
    worker's earnings and claims per platform, one row per registration in platform then
    worker id order (nothing for a single platform)."""
    if scn.platforms is None:
        return {}
    batch = np.repeat(np.arange(len(demand.batch_size)), demand.batch_size)
    task_board = demand.batch_platform[batch]
    task_worker = np.asarray(platform.worker, dtype=np.int64)  # internal ids
    local_of = np.empty(platform.pop.size, dtype=np.int64)
    workers, earnings, claims = [], [], []
    for i, b in enumerate(platform.boards):
        members = np.asarray(b.members, dtype=np.int64)
        local_of[members] = np.arange(len(members))
        mine = task_worker[(task_board == i) & (task_worker >= 0)]  # its claimed tasks' workers
        ids = _worker_ids(members, numbering)
        order = np.argsort(ids, kind="stable")
        workers.append(ids[order])
        earnings.append(np.asarray(b.earnings)[order])
        claims.append(np.bincount(local_of[mine], minlength=len(members))[order])
    return {
        "platform_names": [b.name for b in platform.boards],
        "task_platform": task_board,
        "member_worker": np.concatenate(workers),
        "member_platform": np.concatenate([np.full(len(m), i) for i, m in enumerate(workers)]),
        "member_earnings": np.concatenate(earnings),
        "member_claims": np.concatenate(claims),
    }


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
    if rec.member_worker is not None:  # registrations of workers who came, renumbered
        came = keep[rec.member_worker]
        per_worker.update(member_worker=new_id[rec.member_worker[came]], **{
            name: getattr(rec, name)[came] for name in (
                "member_platform", "member_earnings", "member_claims")})
    return replace(rec, **per_worker, task_worker=task_worker.astype(np.int64),
                   session_worker=worker[order], session_start=sessions[order, 1],
                   session_end=sessions[order, 2],
                   worker_joined=np.asarray(platform.joined_at)[keep],
                   worker_left=np.asarray(platform.left_at)[keep])
