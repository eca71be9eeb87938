"""The worker population: who the workers are and when they are online.

Everything here is drawn up front, vectorised, from the ``population`` and ``sessions``
streams, so the population is identical whatever the platform rules of a variant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.foundation.streams import Streams
from sim.foundation.units import DAY, WEEKDAYS
from sim.scenario.schema import Scenario, horizon_days

#: discovery mode codes used by the engines
PERIODIC, MEMORYLESS, NOTIFICATION = 0, 1, 2
DISCOVERY_MODES = ("refresh", "script", "notification")
"""How a worker learns of tasks, as the scenario names it (the workers table's categories)."""


@dataclass(frozen=True)
class Population:
    """Per-worker attribute arrays (index = worker id) and the merged session list."""

    profile_names: list[str]
    region_names: list[str]
    profile: np.ndarray  # int, index into profile_names
    region: np.ndarray  # int, index into region_names, -1 when the scenario has no regions
    discovery: np.ndarray  # int, index into discovery_specs
    discovery_specs: list  # every profile's discovery options, flattened
    mode: np.ndarray  # int8 discovery mode code
    interval: np.ndarray  # mean refresh interval (s), nan for notification workers
    speed: np.ndarray
    rejection_probability: np.ndarray
    reservation_pay: np.ndarray
    engagement: np.ndarray
    session_worker: np.ndarray  # sessions sorted by worker, then start
    session_start: np.ndarray
    session_end: np.ndarray

    @property
    def size(self) -> int:
        """Number of registered workers."""
        return len(self.profile)


def apportion(total: int, shares: list[float]) -> np.ndarray:
    """Split ``total`` into integer counts proportional to ``shares`` (largest remainder).

    The counts always sum to ``total``: shares are normalised first, since shares that sum to
    1 only within the validation tolerance would otherwise give floors summing to more than
    ``total`` for large populations.
    """
    weights = np.asarray(shares, dtype=float)
    exact = weights / weights.sum() * total
    counts = np.minimum(np.floor(exact).astype(np.int64), total)
    while counts.sum() > total:  # float rounding of the normalised shares: give one back
        counts[np.argmax(counts - exact)] -= 1
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _merge(worker: np.ndarray, start: np.ndarray, end: np.ndarray, horizon: float):
    """Clip sessions to the horizon and merge overlapping sessions of the same worker."""
    start, end = np.clip(start, 0, horizon), np.clip(end, 0, horizon)
    keep = end > start
    worker, start, end = worker[keep], start[keep], end[keep]
    order = np.lexsort((start, worker))
    worker, start, end = worker[order], start[order], end[order]
    if len(worker) == 0:
        return worker, start, end
    offset = worker.astype(float) * (2 * horizon + 1)  # separates workers on one time line
    reach = np.maximum.accumulate(end + offset)
    new = np.ones(len(worker), dtype=bool)
    new[1:] = (worker[1:] != worker[:-1]) | (start[1:] + offset[1:] > reach[:-1])
    first = np.flatnonzero(new)
    merged_end = np.maximum.reduceat(end, first)
    return worker[first], start[first], merged_end


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def build_population(scn: Scenario, streams: Streams) -> Population:
    """Draw every worker's profile attributes and weekly sessions over the horizon."""
    names = list(scn.profiles)
    regions = list(scn.regions)
    counts = apportion(scn.n_workers, [p.share for p in scn.profiles.values()])
    profile = np.repeat(np.arange(len(names)), counts)
    n = scn.n_workers
    region = np.full(n, -1)
    mode = np.zeros(n, dtype=np.int8)
    discovery = np.zeros(n, dtype=np.int64)
    specs: list = []
    interval = np.full(n, np.nan)
    attrs = {k: np.zeros(n) for k in ("speed", "rejection", "reservation", "engagement")}
    sw, ss, se = [], [], []
    days = np.arange(horizon_days(scn))
    for p, prof in enumerate(scn.profiles.values()):
        ids = np.flatnonzero(profile == p)
        rng = streams.rng("population", p)
        k = len(ids)
        attrs["speed"][ids] = prof.speed.sample(rng, k)
        attrs["rejection"][ids] = prof.rejection_probability.sample(rng, k)
        attrs["reservation"][ids] = prof.reservation_pay.sample(rng, k)
        attrs["engagement"][ids] = prof.engagement.sample(rng, k)
        if regions:
            weights = prof.regions or scn.regions
            p_region = np.array([weights.get(r, 0.0) for r in regions])
            region[ids] = rng.choice(len(regions), size=k, p=p_region / p_region.sum())
        shares = np.array([d.share for d in prof.discovery])  # within tolerance of 1: normalise
        option = rng.choice(len(prof.discovery), size=k, p=shares / shares.sum())
        for i, disc in enumerate(prof.discovery):
            sel = ids[option == i]
            discovery[sel] = len(specs)
            specs.append(disc)
            if disc.mode == "notification":
                mode[sel] = NOTIFICATION
            else:
                mode[sel] = PERIODIC if disc.interval.dist == "constant" else MEMORYLESS
                interval[sel] = disc.interval.mean()
        srng = streams.rng("sessions", p)
        if prof.always_online:
            sw.append(ids)
            ss.append(np.zeros(k))
            se.append(np.full(k, scn.horizon))
            continue
        for template in prof.sessions:
            on_days = days[np.isin(days % 7, [WEEKDAYS.index(d) for d in template.days])]
            shape = (k, len(on_days))
            prob = np.clip(template.probability * attrs["engagement"][ids], 0, 1)
            happens = srng.random(shape) < prob[:, None]
            begin = on_days[None, :] * DAY + template.start.sample(srng, k * len(on_days)).reshape(
                shape
            )
            length = template.duration.sample(srng, k * len(on_days)).reshape(shape)
            sw.append(np.broadcast_to(ids[:, None], shape)[happens])
            ss.append(begin[happens])
            se.append((begin + length)[happens])
    worker, start, end = _merge(
        _concat(sw, np.int64), _concat(ss, float), _concat(se, float), scn.horizon
    )
    return Population(
        profile_names=names,
        region_names=regions,
        profile=profile,
        region=region,
        discovery=discovery,
        discovery_specs=specs,
        mode=mode,
        interval=interval,
        speed=attrs["speed"],
        rejection_probability=attrs["rejection"],
        reservation_pay=attrs["reservation"],
        engagement=attrs["engagement"],
        session_worker=worker,
        session_start=start,
        session_end=end,
    )
