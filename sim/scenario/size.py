"""How big a run will be, estimated from its scenario before anything is built.

A scenario can validate and still ask for more than a machine has (``workers: 1e9``,
``batches_per_day: 1e8``, ``horizon: 3000d`` on a large market): building it would allocate
until the operating system kills the process. :func:`estimate` computes the expected number of
workers, session draws, batches and tasks from the scenario's parameters, and the memory the run
needs at its peak; :func:`check` refuses a run whose estimate is above a limit
(:data:`DEFAULT_MAX_MEMORY` unless the caller raises it deliberately) with a
:class:`~sim.errors.ScenarioError` that says what is large and how to proceed.

The bytes per item were measured on the shipped scenarios (peak resident memory of ``sim.run``
in a fresh process, 6,000 to 7.8 million tasks, 1,500 to 333,366 workers; a least-squares fit
of the relative error gave 133 MiB, 295 bytes per task, 1,030 per worker and 27 per session
draw, within 4 % of every case, BENCHMARKS.md) and rounded up by about a third, so that the
estimate stays above the peak: it is meant to be within a factor of about 1.5, which is enough
to stop a run that cannot fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.foundation.errors import ScenarioError
from sim.foundation.units import DAY, WEEKDAYS
from sim.scenario.schema import Scenario, horizon_days

GIB = float(1 << 30)
DEFAULT_MAX_MEMORY = 12 * GIB
"""Largest estimated memory of a run accepted unless the caller raises the limit (12 GiB:
half of a 24 GiB machine, so two runs in parallel still fit)."""
BYTES_PER_TASK = 400.0
BYTES_PER_WORKER = 1_400.0
BYTES_PER_SESSION_DRAW = 36.0
BYTES_PER_REQUESTER = 1_000.0
BYTES_BASE = 180.0 * (1 << 20)
"""Memory of the imported package and its libraries before a run."""


@dataclass(frozen=True)
class RunSize:
    """Expected size of a run of a scenario (means: the run draws the actual numbers)."""

    workers: int
    session_draws: float
    """Worker-days on which a session may start (each is drawn, most do not happen)."""
    requesters: int
    batches: float
    tasks: float
    memory: float
    """Estimated peak memory of the run in bytes."""

    def describe(self) -> str:
        """The size in words, e.g. "2,000 workers, 4.0 k batches, 200 k tasks, 0.3 GiB"."""
        return (f"{self.workers:,} workers, {_count(self.session_draws)} session draws, "
                f"{self.requesters:,} requesters, {_count(self.batches)} batches, "
                f"{_count(self.tasks)} tasks, about {self.memory / GIB:.1f} GiB of memory")


def _count(x: float) -> str:
    for size, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if x >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.0f}"


def estimate(scn: Scenario) -> RunSize:
    """Expected workers, session draws, batches, tasks and peak memory of a run of ``scn``."""
    days = horizon_days(scn)
    workers = scn.n_workers
    draws = 0.0
    for profile in scn.profiles.values():
        n = workers * profile.share
        if profile.always_online:
            draws += n
            continue
        for session in profile.sessions:
            weekdays = [WEEKDAYS.index(d) for d in set(session.days)]
            draws += n * sum(max(0, -(-(days - wd) // 7)) for wd in weekdays)
    batches = tasks = 0.0
    count = 0
    for market in scn.market():  # every platform's requesters
        req = market.requesters
        mine = req.batches_per_day * scn.scale * scn.horizon / DAY
        total = sum(req.task_mix.values())
        batches += mine
        tasks += mine * sum(share / total * max(1.0, scn.task_types[name].batch_size.mean())
                            for name, share in req.task_mix.items())
        count += req.count
    memory = (BYTES_BASE + BYTES_PER_TASK * tasks + BYTES_PER_WORKER * workers
              + BYTES_PER_SESSION_DRAW * draws + BYTES_PER_REQUESTER * count)
    return RunSize(workers=workers, session_draws=draws, requesters=count, batches=batches,
                   tasks=tasks, memory=memory if math.isfinite(memory) else math.inf)


def parse_memory(value: float | str | None) -> float:
    """A memory limit in bytes from a number of GiB (``16``) or a string with a unit
    (``"16GiB"``, ``"500MiB"``, ``"2TiB"``); None gives :data:`DEFAULT_MAX_MEMORY`."""
    if value is None:
        return DEFAULT_MAX_MEMORY
    units = {"tib": GIB * 1024, "gib": GIB, "mib": GIB / 1024, "gb": 1e9, "mb": 1e6, "tb": 1e12}
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        unit = next((u for u in units if text.endswith(u)), None)
        number = text.removesuffix(unit) if unit else text
        try:
            amount = float(number) * (units[unit] if unit else GIB)
        except ValueError:
            raise ScenarioError(f"max_memory: expected a number of GiB or a size such as "
                                f"'16GiB' or '500MiB' (got {value!r})") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        amount = float(value) * GIB
    else:
        raise TypeError(f"max_memory: expected a number of GiB or a string such as '16GiB', "
                        f"got {type(value).__name__}")
    if not amount > 0 or math.isnan(amount):
        raise ScenarioError(f"max_memory: must be a positive size (got {value!r})")
    return amount


def check(scn: Scenario, max_memory: float | str | None = None) -> RunSize:
    """Return the size of a run of ``scn``, or raise ScenarioError when its estimated memory
    exceeds ``max_memory`` (GiB, or a string such as ``"32GiB"``; default
    :data:`DEFAULT_MAX_MEMORY`)."""
    limit = parse_memory(max_memory)
    size = estimate(scn)
    if size.memory > limit:
        raise ScenarioError(
            f"this run is too large: {size.describe()}, above the limit of "
            f"{limit / GIB:.1f} GiB. Reduce workers, scale, requesters.batches_per_day or the "
            "horizon, or raise the limit deliberately (max_memory= in Python, --max-memory on "
            "the command line) on a machine that has the memory")
    return size


def membership_note(scn: Scenario) -> str | None:
    """In a market of several platforms, a warning when the registrations the profiles'
    platform counts imply (workers x mean count) and the platforms' ``registered`` (which
    only weigh the draw) disagree by more than 10 %: the realised platform sizes will then
    differ from the stated ones. None when they agree, or with one platform."""
    if scn.platforms is None:
        return None
    implied = sum(scn.n_workers * p.share * (p.platforms.count.mean() if p.platforms else 1.0)
                  for p in scn.profiles.values())
    stated = sum(e.registered for e in scn.platforms.values()) * scn.scale
    if abs(implied - stated) <= 0.1 * stated:
        return None
    return (f"the profiles' platform counts give about {implied:,.0f} registrations, the "
            f"platforms' registered add up to {stated:,.0f} (times scale): the realised "
            f"platform sizes will differ from the stated ones (the run reports them)")


def scale_note(scn: Scenario) -> str | None:
    """When ``scale`` samples the market (below 1), a reminder that it is an approximate
    shortcut: it keeps volumes per worker (income, tasks, hours) but not the race, which
    depends on how many workers compete (docs/calibration.md, "what scale does not
    preserve"). None at full size."""
    if scn.scale >= 1:
        return None
    return (f"scale {scn.scale:g} runs {scn.n_workers:,} of {scn.workers:,} workers: an "
            f"approximate shortcut that keeps volumes per worker but not the race (fewer "
            f"competitors: claims come later and the fastest workers win less than at full "
            f"size; docs/calibration.md)")
