"""One simulation run: requesters, workers and the platform in a SimPy environment.

Workers and requesters are SimPy processes: a worker's process walks through its sessions
(online, offline), a requester's process releases its batches. Claims, work and expiry are
event callbacks on the platform; arrivals at the board come from the discovery engine.
The core does no I/O: progress is reported through an optional callback (``progress=True``
asks for a ``tqdm.auto`` bar, a widget in Jupyter, for notebooks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim import size
from sim.calibration import measure_targets
from sim.checks import check_seed
from sim.clock import delay_until, events_scheduled
from sim.demand import build_demand
from sim.discovery import ENGINES
from sim.metrics import summarize
from sim.platform import Platform
from sim.population import DAY, build_population
from sim.progress import HorizonProgress
from sim.results import RunResult, task_table, worker_table
from sim.scenario import Scenario, load_scenario
from sim.streams import Streams

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


def run(
    scenario: Scenario | dict[str, Any] | str,
    seed: int = 0,
    *,
    variant: str = "base",
    replication: int = 0,
    progress: ProgressCallback | bool | None = None,
    max_memory: float | str | None = None,
) -> RunResult:
    """Simulate ``scenario`` once with ``seed`` and return its tables and summary.

    ``variant`` and ``replication`` only label the result rows (identity columns).
    ``progress`` is called with the fraction of the horizon simulated so far; ``True`` shows a
    progress bar instead (a widget in Jupyter, text in a terminal; shown after a second).
    Before anything is built the run's size is estimated (:mod:`sim.size`); a run whose
    estimated memory exceeds ``max_memory`` (GiB or a string such as ``"32GiB"``; default
    :data:`sim.size.DEFAULT_MAX_MEMORY`) is refused with a ScenarioError.
    """
    scn = load_scenario(scenario)
    seed = check_seed(seed)
    size.check(scn, max_memory)
    if progress is True:
        bar = HorizonProgress(f"simulating {scn.name}")
        try:
            return run(scn, seed, variant=variant, replication=replication, progress=bar,
                       max_memory=max_memory)
        finally:
            bar.close()
    progress = progress or None
    started = time.perf_counter()
    streams = Streams(seed)
    pop = build_population(scn, streams)
    demand = build_demand(scn, streams)
    env = simpy.Environment()
    rule = scn.platform.allocation.build()
    platform = Platform(env, scn, pop, demand, rule, streams.rng("allocation"))
    engine = ENGINES[scn.engine](env, scn, platform, streams)
    platform.discovery = engine
    starts, ends = pop.session_start.tolist(), pop.session_end.tolist()
    for w, i, j in _groups(pop.session_worker):
        env.process(_worker_life(env, platform, w, starts[i:j], ends[i:j]))
    order = np.argsort(demand.batch_requester, kind="stable")
    released = demand.batch_released.tolist()
    for _, i, j in _groups(demand.batch_requester[order]):
        batches = order[i:j].tolist()
        env.process(_requester_life(env, platform, batches, [released[b] for b in batches]))
    if scn.platform.daily_cap is not None:
        env.process(_midnights(env, platform))
    step = max(scn.horizon / 100, DAY / 4) if progress else scn.horizon
    until = 0.0
    while until < scn.horizon:
        until = min(until + step, scn.horizon)
        env.run(until=until)
        if progress:
            progress(until / scn.horizon)
    platform.finish()
    identity = {"run_id": f"{scn.name}:{variant}:{replication}:{seed}", "seed": seed,
                "variant": variant, "replication": replication}
    tasks = task_table(platform, identity)
    workers = worker_table(platform, identity)
    events = events_scheduled(env)
    stats = {
        "wall_time": time.perf_counter() - started,
        "events": events,
        "events_per_task": events / max(demand.n_tasks, 1),
        "polls": getattr(engine, "polls", 0),
    }
    return RunResult(
        scenario=scn,
        seed=seed,
        variant=variant,
        replication=replication,
        tasks=tasks,
        workers=workers,
        summary={**summarize(tasks, workers, scn.horizon),
                 **measure_targets(scn, tasks, workers)},
        stats=stats,
    )
