"""The worker population: who the workers are and when they plan to be online.

Everything here is drawn up front, vectorised, from named streams, so the population is
identical whatever the platform rules of a variant: the workers registered at the start
(``population`` and ``sessions`` streams), the candidates who may register during the run
when workers join (``joining``, ``newcomers``, ``newcomer_sessions``), and, when supply adapts,
every worker's propensities and the draws its planned sessions will use (``supply.*``).
Whether a candidate registers, and what a worker does with its planned sessions, is decided
during the run (:mod:`sim.core.supply`), from these draws.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.foundation.streams import Streams
from sim.foundation.units import DAY, WEEKDAYS
from sim.scenario.schema import Profile, Scenario, horizon_days

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
    joined_at: np.ndarray  # when the worker registers: 0 at the start, later for candidates
    initial: int  # workers registered at the start are 0..initial-1, candidates after them
    join_draw: np.ndarray  # per candidate, uniform(0,1): registers when below the join rate
    traits: Traits | None  # propensities, when supply adapts
    # markets of several platforms: worker w is registered on platform_of[offsets[w]:
    # offsets[w + 1]], in the order it opens its apps (None: one platform, everyone on it)
    platform_offsets: np.ndarray | None = None
    platform_of: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of workers, candidates included (all of them may have rows in the run)."""
        return len(self.profile)


@dataclass(frozen=True)
class Traits:
    """Per-worker propensities and per-session draws of adaptive labour supply (index = worker
    id, or session index in the sorted session list). NaN or inf mark what a profile lacks."""

    patience: np.ndarray  # seconds without a claim before giving up a session (inf: never)
    daily_target: np.ndarray  # NaN: no daily target
    monthly_target: np.ndarray  # NaN: no monthly target
    expectation: np.ndarray  # pay per hour online expected (NaN: never leaves on pay)
    quit_threshold: np.ndarray  # exponential(1): leaves when the cumulative hazard passes it
    learning_rate: np.ndarray  # exponent of the learning curve (0: no learning)
    extend_draw: np.ndarray  # per session, uniform(0,1) of the extension decision
    skip_draw: np.ndarray  # per session, uniform(0,1) of the skip decision (above target)
    continuation: np.ndarray  # per session, seconds of a continuation (after finding work)
    target_extension: np.ndarray  # per session, seconds of an extension while below target


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


def _sessions(prof: Profile, ids: np.ndarray, engagement: np.ndarray, joined: np.ndarray,
              days: np.ndarray, horizon: float, srng: np.random.Generator,
              ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The planned sessions of the workers ``ids`` of one profile, from the day each joined:
    one draw per worker and day of every session template, whatever the join time (so the
    draws stay aligned across variants), then only those after joining are kept."""
    k = len(ids)
    if prof.always_online:
        return [ids], [joined.copy()], [np.full(k, horizon)]
    sw, ss, se = [], [], []
    for template in prof.sessions:
        on_days = days[np.isin(days % 7, [WEEKDAYS.index(d) for d in template.days])]
        shape = (k, len(on_days))
        prob = np.clip(template.probability * engagement, 0, 1)
        happens = srng.random(shape) < prob[:, None]
        begin = on_days[None, :] * DAY + template.start.sample(srng, k * len(on_days)).reshape(
            shape
        )
        length = template.duration.sample(srng, k * len(on_days)).reshape(shape)
        if joined.any():  # candidates: nothing before they register
            happens &= begin >= joined[:, None]
        sw.append(np.broadcast_to(ids[:, None], shape)[happens])
        ss.append(begin[happens])
        se.append((begin + length)[happens])
    return sw, ss, se


def _draw_workers(scn: Scenario, streams: Streams, profile: np.ndarray, joined: np.ndarray,
                  first_id: int, names: tuple[str, str]) -> dict[str, Any]:
    """Attributes and planned sessions of the workers of one group (the initial workers, or
    the candidates), drawn per profile from the streams ``names`` (attributes, sessions)."""
    regions = list(scn.regions)
    n = len(profile)
    out: dict[str, Any] = {
        "region": np.full(n, -1), "mode": np.zeros(n, dtype=np.int8),
        "discovery": np.zeros(n, dtype=np.int64), "interval": np.full(n, np.nan),
        "specs": [], **{k: np.zeros(n) for k in ("speed", "rejection", "reservation",
                                                  "engagement")}}
    sw, ss, se = [], [], []
    days = np.arange(horizon_days(scn))
    for p, prof in enumerate(scn.profiles.values()):
        ids = np.flatnonzero(profile == p)
        rng = streams.rng(names[0], p)
        k = len(ids)
        out["speed"][ids] = prof.speed.sample(rng, k)
        out["rejection"][ids] = prof.rejection_probability.sample(rng, k)
        out["reservation"][ids] = prof.reservation_pay.sample(rng, k)
        out["engagement"][ids] = prof.engagement.sample(rng, k)
        if regions:
            weights = prof.regions or scn.regions
            p_region = np.array([weights.get(r, 0.0) for r in regions])
            out["region"][ids] = rng.choice(len(regions), size=k, p=p_region / p_region.sum())
        shares = np.array([d.share for d in prof.discovery])  # within tolerance of 1: normalise
        option = rng.choice(len(prof.discovery), size=k, p=shares / shares.sum())
        for i, disc in enumerate(prof.discovery):
            sel = ids[option == i]
            out["discovery"][sel] = len(out["specs"])
            out["specs"].append(disc)
            if disc.mode == "notification":
                out["mode"][sel] = NOTIFICATION
            else:
                out["mode"][sel] = PERIODIC if disc.interval.dist == "constant" else MEMORYLESS
                out["interval"][sel] = disc.interval.mean()
        parts = _sessions(prof, ids, out["engagement"][ids], joined[ids], days, scn.horizon,
                          streams.rng(names[1], p))
        sw += [w + first_id for w in parts[0]]
        ss += parts[1]
        se += parts[2]
    out["sessions"] = (sw, ss, se)
    return out


def _candidates(scn: Scenario, streams: Streams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profiles, times and acceptance draws of the workers who may register during the run: a
    Poisson process at the highest rate registrations can reach (thinned during the run when
    the rate follows market pay)."""
    joining = scn.supply.joining if scn.adaptive else None
    if joining is None or joining.rate == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    rng = streams.rng("joining")
    peak = joining.rate * scn.scale * (joining.max_factor if joining.pay_elasticity else 1.0)
    count = int(rng.poisson(peak * scn.horizon / DAY))
    times = np.sort(rng.uniform(0.0, scn.horizon, count))
    shares = np.array([p.share for p in scn.profiles.values()])
    profile = rng.choice(len(shares), size=count, p=shares / shares.sum())
    return profile.astype(np.int64), times, rng.random(count)


def _traits(scn: Scenario, streams: Streams, profile: np.ndarray, session_worker: np.ndarray
            ) -> Traits:
    """Every worker's propensities (one stream per kind and profile, candidates after the
    initial workers in the same order) and the per-session draws of adaptive supply."""
    n, m = len(profile), len(session_worker)
    traits = {k: np.full(n, v) for k, v in (
        ("patience", np.inf), ("daily_target", np.nan), ("monthly_target", np.nan),
        ("expectation", np.nan), ("learning_rate", 0.0))}
    quit_threshold = streams.rng("supply.quit").exponential(1.0, n)
    session = {k: np.zeros(m) for k in ("continuation", "target_extension")}
    srng = streams.rng("supply.sessions")
    extend_draw, skip_draw = srng.random(m), srng.random(m)
    session_profile = profile[session_worker]
    for p, prof in enumerate(scn.profiles.values()):
        supply = prof.supply
        if supply is None:
            continue
        ids, k = np.flatnonzero(profile == p), int(np.sum(profile == p))
        rng = streams.rng("supply.traits", p)
        if supply.patience is not None:
            traits["patience"][ids] = supply.patience.sample(rng, k)
        if supply.target is not None:
            for name, dist in (("daily_target", supply.target.daily),
                               ("monthly_target", supply.target.monthly)):
                if dist is not None:
                    traits[name][ids] = dist.sample(rng, k)
        if supply.leaving is not None:
            traits["expectation"][ids] = supply.leaving.expectation.sample(rng, k)
        if supply.learning is not None:
            traits["learning_rate"][ids] = supply.learning.rate.sample(rng, k)
        sel = np.flatnonzero(session_profile == p)
        if supply.continuation is not None:
            session["continuation"][sel] = supply.continuation.duration.sample(srng, len(sel))
        if supply.target is not None:
            session["target_extension"][sel] = supply.target.extension.sample(srng, len(sel))
    return Traits(quit_threshold=quit_threshold, extend_draw=extend_draw, skip_draw=skip_draw,
                  **traits, **session)


FIT_SAMPLE, FIT_ROUNDS = 4096, 100
"""Monte Carlo sample and most rounds of the fit of the race weights to the platform sizes."""


def _memberships(scn: Scenario, streams: Streams, profile: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Each worker's platforms in the order it opens them (CSR: offsets, platform indices).

    Per profile (stream ``membership``): a count from ``platforms.count`` (rounded, between 1
    and the platforms the profile may join), then that many platforms drawn without
    replacement by the exponential race (the first ``count`` of independent exponential
    clocks with the weights as rates; Efraimidis and Spirakis 2006), whose order is the order
    of successive weighted draws: the worker's app order. Profiles without their own
    ``weights`` share race weights fitted so that the expected number of members of each
    platform is proportional to its ``registered`` (:func:`_race_weights`): drawing in
    proportion to the sizes themselves would leave the largest platforms short, since a
    worker's second or third platform is never its first.
    """
    if scn.platforms is None:
        return None, None
    names = list(scn.platforms)
    registered = np.array([e.registered for e in scn.platforms.values()], dtype=float)
    counts = np.ones(len(profile), dtype=np.int64)
    rngs, groups = [], []
    for p, prof in enumerate(scn.profiles.values()):
        ids = np.flatnonzero(profile == p)
        rngs.append(streams.rng("membership", p))
        member = prof.platforms
        own = None if member is None or member.weights is None else \
            np.array([member.weights.get(n, 0.0) for n in names], dtype=float)
        allowed = len(names) if own is None else np.count_nonzero(own)
        if member is not None and len(ids):
            drawn = np.rint(member.count.sample(rngs[p], len(ids)))
            counts[ids] = np.clip(drawn, 1, allowed).astype(np.int64)
        groups.append((ids, own))
    shared = _race_weights(registered, [(counts[ids], own) for ids, own in groups],
                           streams.rng("membership.fit"))
    width = int(counts.max())  # the most platforms a worker opens
    chosen = np.zeros((len(profile), width), dtype=np.int64)
    for p, (ids, own) in enumerate(groups):
        if len(ids) == 0:
            continue
        with np.errstate(divide="ignore"):
            keys = rngs[p].exponential(size=(len(ids), len(names))) / \
                (shared if own is None else own)
        chosen[ids] = _first_in_order(keys, width)
    take = np.arange(width)[None, :] < counts[:, None]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, chosen[take]


def _inclusion(counts: np.ndarray, clocks: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per platform, the share of a sample of workers (``counts`` platforms each, exponential
    ``clocks``) whose race with ``weights`` includes it."""
    with np.errstate(divide="ignore"):
        keys = clocks / weights
    first = _first_in_order(keys, int(counts.max()))
    taken = first[np.arange(first.shape[1])[None, :] < counts[:, None]]  # as _memberships
    return np.bincount(taken, minlength=keys.shape[1]) / len(keys)


def _first_in_order(keys: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` smallest keys in increasing order, ties in column
    order: the first ``k`` columns of a stable argsort of each row, without sorting whole
    rows (a partial selection, then a sort of the ``k``; rows where a key left out ties the
    largest taken are sorted whole, so the result is always the stable argsort's)."""
    if k >= keys.shape[1]:
        return np.argsort(keys, axis=1, kind="stable")
    taken = np.argpartition(keys, k - 1, axis=1)[:, :k]
    taken.sort(axis=1)  # in column order, so that the stable sort below breaks ties by column
    order = np.take_along_axis(
        taken, np.argsort(np.take_along_axis(keys, taken, axis=1), axis=1, kind="stable"),
        axis=1)
    largest = np.take_along_axis(keys, order[:, -1:], axis=1)
    tied = np.flatnonzero(np.count_nonzero(keys <= largest, axis=1) > k)
    if len(tied):
        order[tied] = np.argsort(keys[tied], axis=1, kind="stable")[:, :k]
    return order


def _race_weights(registered: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray | None]],
                  rng: np.random.Generator) -> np.ndarray:
    """Race weights of the profiles without their own (``groups``: each profile's realised
    counts and own weights or None) such that the expected members of each platform, over
    every profile, are proportional to ``registered``: fixed-point iteration on a Monte Carlo
    sample (:data:`FIT_SAMPLE` workers per profile, its own stream), from the sizes
    themselves. A size no weight can reach (more members than workers) is approached as
    closely as the others allow."""
    weights = registered.copy()
    sample = []
    for counts, own in groups:
        if len(counts) == 0:
            continue
        k = min(FIT_SAMPLE, len(counts))
        sample.append((len(counts), rng.choice(counts, k, replace=len(counts) < k),
                       rng.exponential(size=(k, len(registered))), own))
    total = sum(n * counts.mean() for n, counts, _, _ in sample)
    fixed = sum((n * _inclusion(c, e, own) for n, c, e, own in sample if own is not None),
                np.zeros(len(registered)))
    target = np.maximum(registered / registered.sum() * total - fixed, 1e-9)
    free = [(n, c, e) for n, c, e, own in sample if own is None]
    for _ in range(FIT_ROUNDS if free else 0):
        expected = sum(n * _inclusion(c, e, weights) for n, c, e in free)
        if np.allclose(expected, target, rtol=1e-3, atol=0.5):
            break
        weights = weights * target / np.maximum(expected, 1e-9)
        weights = weights / weights.max()
    return weights


def build_population(scn: Scenario, streams: Streams) -> Population:
    """Draw the workers registered at the start, the candidates who may register during the
    run, their attributes and planned sessions over the horizon, and (when supply adapts)
    their propensities."""
    names = list(scn.profiles)
    counts = apportion(scn.n_workers, [p.share for p in scn.profiles.values()])
    initial = np.repeat(np.arange(len(names)), counts)
    cand_profile, cand_time, join_draw = _candidates(scn, streams)
    groups = [_draw_workers(scn, streams, initial, np.zeros(len(initial)), 0,
                            ("population", "sessions"))]
    if len(cand_profile):
        groups.append(_draw_workers(scn, streams, cand_profile, cand_time, len(initial),
                                    ("newcomers", "newcomer_sessions")))
        offset = len(groups[0]["specs"])
        groups[1]["discovery"] += offset
        groups[1]["specs"] = groups[0]["specs"] + groups[1]["specs"]

    def joined(key: str) -> np.ndarray:
        return np.concatenate([g[key] for g in groups]) if len(groups) > 1 else groups[0][key]

    sw = [a for g in groups for a in g["sessions"][0]]
    ss = [a for g in groups for a in g["sessions"][1]]
    se = [a for g in groups for a in g["sessions"][2]]
    worker, start, end = _merge(
        _concat(sw, np.int64), _concat(ss, float), _concat(se, float), scn.horizon
    )
    profile = np.concatenate([initial, cand_profile]) if len(cand_profile) else initial
    offsets, platform_of = _memberships(scn, streams, profile)
    return Population(
        profile_names=names,
        region_names=list(scn.regions),
        profile=profile,
        region=joined("region"),
        discovery=joined("discovery"),
        discovery_specs=groups[-1]["specs"],
        mode=joined("mode"),
        interval=joined("interval"),
        speed=joined("speed"),
        rejection_probability=joined("rejection"),
        reservation_pay=joined("reservation"),
        engagement=joined("engagement"),
        session_worker=worker,
        session_start=start,
        session_end=end,
        joined_at=np.concatenate([np.zeros(len(initial)), cand_time]),
        initial=len(initial),
        join_draw=join_draw,
        traits=_traits(scn, streams, profile, worker) if scn.adaptive else None,
        platform_offsets=offsets,
        platform_of=platform_of,
    )


PER_WORKER = ("profile", "region", "discovery", "mode", "interval", "speed",
              "rejection_probability", "reservation_pay", "engagement", "joined_at")
"""The population's fields indexed by worker id (with fixed supply)."""


def active_first(pop: Population) -> np.ndarray | None:
    """The order in which a run of fixed supply numbers its workers inside the simulation:
    ``order[internal] = id``, the workers with a planned session first, then the others, each
    group in id order; None when that is the identity (or supply adapts: then any worker may
    come online).

    At full market size four in five registered workers never come online: numbered first,
    the ones who do keep the per-worker state the simulation touches close together in
    memory (a quarter less time for the French market). The order among workers who come
    online is kept, and the others never appear in any ordering the simulation makes (they
    are never online, idle or armed), so a run gives the same results bit for bit once its
    records are numbered back (tests/test_engines.py).
    """
    if pop.traits is not None or pop.initial != pop.size:
        return None
    active = np.zeros(pop.size, dtype=bool)
    active[pop.session_worker] = True
    if active[: active.sum()].all():  # already first
        return None
    return np.concatenate([np.flatnonzero(active), np.flatnonzero(~active)])


def reordered(pop: Population, order: np.ndarray) -> Population:
    """``pop`` with its workers renumbered: internal worker ``i`` is worker ``order[i]``."""
    internal = np.empty(pop.size, dtype=np.int64)
    internal[order] = np.arange(pop.size)
    changes: dict[str, Any] = {name: getattr(pop, name)[order] for name in PER_WORKER}
    changes["session_worker"] = internal[pop.session_worker]  # still sorted: order is kept
    if pop.platform_of is not None:  # each worker's registrations, in the new order
        counts = np.diff(pop.platform_offsets)[order]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        source = np.repeat(pop.platform_offsets[order] - offsets[:-1], counts) \
            + np.arange(offsets[-1])
        changes.update(platform_offsets=offsets, platform_of=pop.platform_of[source])
    return replace(pop, **changes)
