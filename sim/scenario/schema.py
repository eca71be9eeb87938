"""The scenario schema: every field of a market, its type, default and constraints.

A scenario is the single place where a market's parameters live. These pydantic models
validate it once into an immutable :class:`Scenario` (loading and overriding are in
:mod:`sim.scenario.loading`); the scenario reference is generated from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.analysis.measures import MEASURES
from sim.foundation.units import DAY, WEEKDAYS
from sim.scenario.allocation import AllocationConfig
from sim.scenario.distributions import MAX_MAGNITUDE
from sim.scenario.fields import (
    MAX_COUNT,
    MAX_HORIZON,
    MAX_REQUESTERS,
    SHARE_TOLERANCE,
    BatchSizeDist,
    Dist,
    Duration,
    DurationDist,
    FrozenDict,
    PositiveDist,
    PositiveDuration,
    ProbabilityDist,
    Shares,
    StrictModel,
    coerce_one,
    sums_to_one,
)
from sim.scenario.market import MAX_PLATFORMS, Membership, PlatformEntry, merged
from sim.scenario.messages import format_error
from sim.scenario.paths import get_path
from sim.scenario.supply import MarketSupply, ProfileSupply

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Session(StrictModel):
    """A recurring session in a worker's weekly rhythm: on ``days``, with ``probability``, the
    worker goes online at a time of day drawn from ``start`` for a ``duration``."""

    days: tuple[Day, ...] = Field(default=WEEKDAYS, min_length=1,
                                  description="Days of the week the session may happen on.")
    start: DurationDist = Field(description="Time of day it starts (duration after midnight).")
    duration: DurationDist = Field(description="How long the worker stays online.")
    probability: float = Field(default=1.0, ge=0, le=1, description=(
        "Chance that it happens on each of its days, times the worker's engagement."))


class Discovery(StrictModel):
    """How a worker learns about new tasks.

    ``refresh``: looks at the task list every ``interval`` (constant = periodic, exponential =
    memoryless); ``script``: an auto-accept script refreshing every ``interval`` (default 1 s);
    ``notification``: reacts to each release after a ``reaction`` delay (opening the app
    clears pending notifications). Every worker also looks when a session starts and after each
    task it finishes. A profile may mix several modes, each with the ``share`` of its workers.
    """

    mode: Literal["refresh", "script", "notification"] = Field(
        description="How the worker learns of new tasks.")
    share: float = Field(default=1.0, ge=0, le=1, description=(
        "Share of the profile's workers using this mode (a profile's shares sum to 1)."))
    interval: DurationDist | None = Field(default=None, description=(
        "refresh, script: time between two looks at the task list, constant (periodic) or "
        "exponential (memoryless); script default 1 s."))
    reaction: DurationDist | None = Field(default=None, description=(
        "notification: delay from a release to the worker looking at the task list."))

    @model_validator(mode="before")
    @classmethod
    def _script_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("mode") == "script" and "interval" not in data:
            return {**data, "interval": 1.0}
        return data

    @model_validator(mode="after")
    def _fields(self) -> Discovery:
        if self.mode == "notification":
            if self.reaction is None:
                raise ValueError("mode 'notification' needs a 'reaction' delay distribution")
            if self.interval is not None:
                raise ValueError("mode 'notification' takes 'reaction', not 'interval'")
            return self
        if self.reaction is not None:
            raise ValueError(f"mode {self.mode!r} takes 'interval', not 'reaction'")
        if self.interval is None:
            raise ValueError(f"mode {self.mode!r} needs an 'interval'")
        if self.interval.dist not in ("constant", "exponential"):
            raise ValueError(
                f"interval must be a constant (periodic refresh) or exponential (memoryless)"
                f" distribution, got {self.interval.dist!r}"
            )
        if self.interval.mean() <= 0:
            raise ValueError(f"interval must be positive, got {self.interval.mean()}")
        return self


class Profile(StrictModel):
    """A kind of worker: share of the population, availability, discovery, speed, quality,
    reservation pay, task types and regions."""

    share: float = Field(ge=0, le=1, description=(
        "Share of the registered workers (the shares of all profiles sum to 1)."))
    description: str = Field(default="", description="Free text, shown in reports.")
    always_online: bool = Field(default=False, description=(
        "Online for the whole horizon; sessions are then ignored."))
    sessions: tuple[Session, ...] = Field(default=(), description=(
        "The weekly rhythm: recurring sessions."))
    engagement: Dist = Field(default_factory=lambda: coerce_one(1.0), description=(
        "Per-worker multiplier of every session's probability, drawn once per worker."))
    discovery: Annotated[tuple[Discovery, ...], BeforeValidator(_as_list), Field(min_length=1)] = (
        Field(description="One discovery mode, or a list of modes with their shares."))
    speed: PositiveDist = Field(default_factory=lambda: coerce_one(1.0), description=(
        "Per-worker multiplier on the time a task takes (below 1: faster than typical)."))
    rejection_probability: ProbabilityDist = Field(
        default_factory=lambda: coerce_one(0.0),
        description="Per-worker chance that submitted work is rejected (and unpaid).")
    reservation_pay: Dist = Field(default_factory=lambda: coerce_one(0.0), description=(
        "Per-worker lowest pay per hour of effort: tasks paying less are ignored."))
    task_types: tuple[str, ...] | None = Field(default=None, description=(
        "Names of the task types the workers accept (default: all)."))
    regions: Annotated[Shares, Field(min_length=1)] | None = Field(default=None, description=(
        "Shares of the profile's workers per region (default: the scenario's regions)."))
    supply: ProfileSupply | None = Field(default=None, description=(
        "How the profile's workers adapt to what the market pays (default: fixed sessions)."))
    platforms: Membership | None = Field(default=None, description=(
        "In a market of several platforms: on how many its workers are registered, and "
        "which (default: one, drawn in proportion to the platforms' sizes)."))

    @field_validator("discovery")
    @classmethod
    def _discovery_shares(cls, v: tuple[Discovery, ...]) -> tuple[Discovery, ...]:
        sums_to_one({str(i): d.share for i, d in enumerate(v)})
        return v


class TaskType(StrictModel):
    """A kind of task: reward (or pay rate per hour of effort), effort, batch size, expiry,
    and whether it is done in a shop of a region (with travel time)."""

    reward: Dist | None = Field(default=None, description=(
        "Pay per task, drawn per batch, rounded to cents (give this or pay_rate)."))
    pay_rate: Dist | None = Field(default=None, description=(
        "Pay per hour of effort, drawn per batch (give this or reward)."))
    effort: DurationDist = Field(description=(
        "Work a typical worker needs for one task, drawn per batch."))
    effort_spread: Dist = Field(default_factory=lambda: coerce_one(1.0), description=(
        "Per-task multiplier on the batch's effort."))
    batch_size: BatchSizeDist = Field(default_factory=lambda: coerce_one(1.0), description=(
        "Tasks per batch (rounded down, at least 1)."))
    expiry: Duration | None = Field(default=None, description=(
        "Time after release when unclaimed tasks expire (default: never)."))
    regional: bool = Field(default=False, description=(
        "Done in a shop: each batch gets a region and only that region's workers take it."))
    travel: DurationDist | None = Field(default=None, description=(
        "Regional tasks: travel time added to the work of each task."))

    @model_validator(mode="after")
    def _check(self) -> TaskType:
        if (self.reward is None) == (self.pay_rate is None):
            raise ValueError("give exactly one of 'reward' (per task) or 'pay_rate' (per hour)")
        if self.travel is not None and not self.regional:
            raise ValueError("'travel' only applies to regional tasks (set regional: true)")
        return self


def _relative_weights(v: tuple[float, ...], n: int, what: str) -> tuple[float, ...]:
    """Check ``n`` relative weights: each in [0, 1e15], the largest at least 1e-9 (smaller
    ones would underflow when normalised)."""
    if len(v) != n or any(x < 0 or x > MAX_MAGNITUDE for x in v) or max(v, default=0) < 1e-9:
        raise ValueError(f"{what}: relative weights from 0 to {MAX_MAGNITUDE:g}, the largest at "
                         "least 1e-9")
    return v


class Requesters(StrictModel):
    """Requesters post batches of tasks: Poisson arrivals modulated by hour of day and day of
    week, each requester's share of arrivals proportional to its drawn ``activity``."""

    count: int = Field(ge=1, le=MAX_REQUESTERS, description="Number of requesters.")
    activity: Dist = Field(default_factory=lambda: coerce_one(1.0), description=(
        "Per-requester weight of its share of the batches (heavy-tailed: a few post most)."))
    activity_draw: Literal["random", "quantiles"] = Field(default="random", description=(
        "'random': each requester's weight is drawn; 'quantiles': the weights are the "
        "activity distribution's quantiles at (i + 0.5) / count, shuffled, so the concentration "
        "of requesters is the same in every run (less noise in heavy-tailed markets)."))
    batches_per_day: float = Field(ge=0, description=(
        "Batches a day over all requesters, for the full-size market (times scale)."))
    hour_of_day: tuple[float, ...] = Field(default=(1.0,) * 24, description=(
        "24 relative weights of the arrival rate, hours 0 to 23."))
    day_of_week: tuple[float, ...] = Field(default=(1.0,) * 7, description=(
        "7 relative weights of the arrival rate, mon to sun (day 0 is a Monday)."))
    task_mix: Annotated[Shares, Field(min_length=1)] = Field(description=(
        "Share of the batches of each task type."))

    @field_validator("hour_of_day")
    @classmethod
    def _hours(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _relative_weights(v, 24, "hour_of_day needs 24 weights, hours 0 to 23")

    @field_validator("day_of_week")
    @classmethod
    def _days(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        return _relative_weights(v, 7, "day_of_week needs 7 weights, mon to sun")


class Platform(StrictModel):
    """Platform rules: allocation, commission, caps (tasks per day, earnings per 30 days: no
    new claims once reached), payout threshold and a minimum pay per hour
    of effort (rewards below it are raised; with ``demand_elasticity`` > 0 requesters then post
    fewer tasks: each is kept with probability (raised / original reward) ** -elasticity)."""

    allocation: AllocationConfig = Field(default_factory=lambda: AllocationConfig(rule="fcfs"),
                                         description="The allocation rule and its parameters.")
    commission: float = Field(default=0.0, ge=0, lt=1, description=(
        "Fee on approved work, a fraction of the reward, paid by the requester on top."))
    daily_cap: int | None = Field(default=None, ge=1, le=MAX_COUNT, description=(
        "Most tasks a worker may claim per day (default: no cap)."))
    max_claimed: int = Field(default=1, ge=1, le=MAX_COUNT, description=(
        "Claimed but unfinished tasks a worker may hold at once."))
    payout_threshold: float = Field(default=0.0, ge=0, description=(
        "Earnings below it at the end are not paid out (recorded as withheld)."))
    monthly_cap: float | None = Field(default=None, gt=0, description=(
        "Most a worker may earn per 30 days; no new claims once reached (default: no cap)."))
    minimum_pay_rate: float | None = Field(default=None, ge=0, description=(
        "Lowest pay per hour of effort: smaller rewards are raised to it (default: none)."))
    demand_elasticity: float = Field(default=0.0, ge=0, description=(
        "How many tasks requesters drop when rewards are raised (0: none)."))


class TargetSpec(StrictModel):
    """How a scenario meets one row of the targets file: an ``input`` it sets (the sum of the
    values at ``paths``, over the sum at ``per`` if given, or a ``measure`` of what the inputs
    produce, such as the modal reward), or an outcome (``fitted`` or ``held_out``) measured
    from the run by the named ``measure`` (see sim.analysis.measures)."""

    role: Literal["input", "fitted", "held_out"] = Field(description=(
        "input: set by the scenario; fitted: free parameters are fitted to it; held_out: "
        "an outcome nothing is fitted to."))
    measure: str | None = Field(default=None, description=(
        "Name of the measure computed from a run (see sim.analysis.measures)."))
    paths: tuple[str, ...] = Field(default=(), description=(
        "input: scenario paths whose values add up to the figure."))
    per: tuple[str, ...] = Field(default=(), description=(
        "input: scenario paths whose sum divides the sum of paths."))
    setting: str | None = Field(default=None, description=(
        "Name of a calibration setting (``calibration.settings``) the target is measured "
        "under, in the report and in the fit (default: the scenario as it is)."))

    @model_validator(mode="after")
    def _check(self) -> TargetSpec:
        if (self.measure is None) == (not self.paths):
            raise ValueError("give either 'paths' (scenario fields an input sets) or 'measure'")
        if self.role != "input" and self.measure is None:
            raise ValueError("an outcome target is measured: give 'measure', not 'paths'")
        if self.measure is not None and self.measure not in MEASURES:
            raise ValueError(f"unknown measure {self.measure!r}; allowed: "
                             f"{', '.join(sorted(MEASURES))}")
        return self


class FitParameter(StrictModel):
    """A free parameter: its value is written at every one of ``paths`` (times that path's
    factor when ``factors`` are given), within ``bounds``."""

    paths: tuple[str, ...] = Field(min_length=1, description=(
        "Scenario paths that all receive the parameter's value."))
    factors: tuple[Annotated[float, Field(gt=0)], ...] | None = Field(default=None, description=(
        "One positive multiplier per path: path i receives value x factors[i] (e.g. each "
        "platform's demand in proportion to its size, with the parameter the demand per "
        "thousand registrations). Default: every path receives the value itself."))
    bounds: tuple[float, float] = Field(description="Lowest and highest value searched.")
    log: bool = Field(default=False, description=(
        "Search on a log scale (for a positive parameter spanning orders of magnitude)."))

    @model_validator(mode="after")
    def _check(self) -> FitParameter:
        if self.factors is not None and len(self.factors) != len(self.paths):
            raise ValueError(f"factors: {len(self.factors)} given for {len(self.paths)} paths; "
                             f"give one per path")
        return self

    def written(self, value: float) -> dict[str, float]:
        """The scenario changes that set this parameter to ``value``."""
        factors = self.factors or (1.0,) * len(self.paths)
        return {p: value * f for p, f in zip(self.paths, factors, strict=True)}

    def current(self, data: dict[str, Any]) -> float:
        """The parameter's value in the scenario ``data`` (read at its first path)."""
        return float(get_path(data, self.paths[0])) / (self.factors[0] if self.factors else 1.0)


class FitStage(StrictModel):
    """One step of the calibration procedure: free ``parameters`` fitted to ``targets`` (ids of
    fitted targets)."""

    parameters: Annotated[
        dict[str, FitParameter], Field(min_length=1), AfterValidator(FrozenDict)
    ]
    targets: tuple[str, ...] = Field(min_length=1, description=(
        "Ids of the fitted targets of this stage."))
    replications: int | None = Field(default=None, ge=2, description=(
        "Replications per evaluation (default: the calibration section's)."))
    tolerance: float = Field(default=1e-3, gt=0, description=(
        "Tolerance of the optimiser on the parameters."))
    max_evals: int = Field(default=40, ge=1, description="Most evaluations of the objective.")


class CalibrationSpec(StrictModel):
    """Which published figures the scenario targets and how its free parameters are fitted."""

    market: str = Field(description="Market of the targets file's rows (e.g. france).")
    replications: int = Field(default=5, ge=2, description=(
        "Replications of the calibration report."))
    seed: int = Field(default=1, description="Seed of the replications.")
    settings: Annotated[
        dict[str, Annotated[dict[str, Any], Field(min_length=1), AfterValidator(FrozenDict)]],
        AfterValidator(FrozenDict),
    ] = Field(default_factory=FrozenDict, description=(
        "Named sets of overrides (dotted scenario paths and their values, as ``--set``) under "
        "which some targets are measured, e.g. ``long_run: {supply.adaptive: true, horizon: "
        "120d}`` for targets that need workers who come and go; a target names one with "
        "``setting``. Every run of those targets, in the report and in the fit, applies it."))
    targets: Annotated[dict[str, TargetSpec], Field(min_length=1), AfterValidator(FrozenDict)]
    fit: tuple[FitStage, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> CalibrationSpec:
        for name, changes in self.settings.items():
            inner = [p for p in changes if p == "calibration" or p.startswith("calibration.")]
            if inner:
                raise ValueError(f"settings.{name}: {inner[0]!r}: a setting changes the market, "
                                 f"not the calibration section")
        for tid, spec in self.targets.items():
            if spec.setting is not None and spec.setting not in self.settings:
                allowed = ", ".join(sorted(self.settings)) or "none defined"
                raise ValueError(f"targets.{tid}.setting: unknown setting {spec.setting!r}; "
                                 f"allowed: the names of calibration.settings ({allowed})")
            if spec.setting is not None and spec.role == "input" and spec.measure is None:
                raise ValueError(f"targets.{tid}.setting: an input read from 'paths' is not "
                                 f"measured; a setting applies to measured targets only")
        for i, stage in enumerate(self.fit):
            for t in stage.targets:
                if t not in self.targets or self.targets[t].role != "fitted":
                    raise ValueError(f"fit.{i}.targets: {t!r} is not a fitted target of "
                                     f"calibration.targets")
        return self


class Scenario(StrictModel):
    """A whole market, validated and immutable. Build one with :func:`load_scenario`.

    ``scale`` multiplies the number of workers and the volume of tasks together, so a market
    can be run scaled down (fast) or at full size with the same parameters.
    """

    name: str = Field(default="scenario", description=(
        "Short name: labels the results and names default result folders."))
    description: str = Field(default="", description="Free text, shown in reports.")
    currency: str = Field(default="EUR", description="Currency of every amount of money.")
    horizon: PositiveDuration = Field(le=MAX_HORIZON, description="Simulated time.")
    scale: float = Field(default=1.0, gt=0, description=(
        "Multiplies the workers and the task volume together, to run a market scaled down."))
    engine: Literal["race", "polling"] = Field(default="race", description=(
        "race: event-driven; polling: the literal oracle simulating every refresh (slow)."))
    workers: int = Field(ge=1, le=MAX_COUNT, description=(
        "Registered workers of the full-size market."))
    regions: Shares = Field(default_factory=FrozenDict, description=(
        "Shares of the workers per region (needed by regional task types)."))
    profiles: Annotated[dict[str, Profile], Field(min_length=1), AfterValidator(FrozenDict)]
    task_types: Annotated[dict[str, TaskType], Field(min_length=1), AfterValidator(FrozenDict)]
    requesters: Requesters
    platform: Platform = Field(default_factory=Platform)
    supply: MarketSupply = Field(default_factory=MarketSupply, description=(
        "Registrations, and the switch between fixed and adaptive labour supply."))
    platforms: Annotated[dict[str, PlatformEntry], Field(min_length=1, max_length=MAX_PLATFORMS),
                         AfterValidator(FrozenDict)] | None = Field(default=None, description=(
        "A market of several platforms (default: one, ``platform`` and ``requesters``): "
        "each with its size and what it changes of ``platform`` and ``requesters``."))
    calibration: CalibrationSpec | None = None

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        total = sum(p.share for p in self.profiles.values())
        if abs(total - 1) > SHARE_TOLERANCE:
            shares = ", ".join(f"{k}: {p.share:g}" for k, p in self.profiles.items())
            raise ValueError(f"profiles.*.share must sum to 1, got {total:.6g} ({shares})")
        types = set(self.task_types)
        for name, profile in self.profiles.items():
            for t in profile.task_types or []:
                if t not in types:
                    raise ValueError(
                        f"profiles.{name}.task_types: unknown task type {t!r};"
                        f" allowed: {sorted(types)}"
                    )
            for r in profile.regions or {}:
                if r not in self.regions:
                    raise ValueError(
                        f"profiles.{name}.regions: unknown region {r!r};"
                        f" allowed: {sorted(self.regions)}"
                    )
        for name, tt in self.task_types.items():
            if tt.regional and not self.regions:
                raise ValueError(f"task_types.{name} is regional but the scenario has no regions")
        if self.workers * self.scale > MAX_COUNT:
            raise ValueError(f"scale: {self.workers:,} workers x scale {self.scale:g} is more "
                             f"than {MAX_COUNT:,} workers")
        for where, market in zip(self._market_paths(), self.market(), strict=True):
            window = market.platform.allocation.window
            if window > self.horizon:
                raise ValueError(f"{where}.allocation.window: {window:g} s is longer than the "
                                 f"horizon ({self.horizon:g} s): no round would ever close")
            for t in market.requesters.task_mix:
                if t not in types:
                    raise ValueError(f"{where.replace('platform', 'requesters')}.task_mix: "
                                     f"unknown task type {t!r}; allowed: {sorted(types)}")
        self._check_memberships()
        return self

    def _market_paths(self) -> list[str]:
        return ["platform"] if self.platforms is None else \
            [f"platforms.{name}.platform" for name in self.platforms]

    def _check_memberships(self) -> None:
        names = list(self.platforms or ())
        for pname, profile in self.profiles.items():
            if profile.platforms is None:
                continue
            if self.platforms is None:
                raise ValueError(f"profiles.{pname}.platforms: the scenario has one platform "
                                 f"(no top-level platforms section)")
            for key in profile.platforms.weights or {}:
                if key not in self.platforms:
                    raise ValueError(f"profiles.{pname}.platforms.weights: unknown platform "
                                     f"{key!r}; allowed: {names}")
            if profile.platforms.weights is not None and \
                    sum(profile.platforms.weights.values()) <= 0:
                raise ValueError(f"profiles.{pname}.platforms.weights: at least one platform "
                                 f"must have a weight above 0")

    def market(self) -> tuple[MarketPlatform, ...]:
        """The market's platforms, each with its rules and requesters resolved (the scenario's
        sections with the platform's changes); one, named ``platform``, without
        ``platforms``."""
        if self.platforms is None:
            return (MarketPlatform("platform", "", self.workers, self.platform, self.requesters),)
        base_platform = self.platform.model_dump(mode="json", by_alias=True)
        base_requesters = self.requesters.model_dump(mode="json", by_alias=True)
        out = []
        for name, entry in self.platforms.items():
            sections = []
            for key, model, base in (("platform", Platform, base_platform),
                                     ("requesters", Requesters, base_requesters)):
                try:
                    sections.append(model.model_validate(merged(base, dict(getattr(entry,
                                                                                   key)))))
                except ValidationError as err:
                    raise ValueError(format_error(err, f"platforms.{name}.{key}.")) from None
            out.append(MarketPlatform(name, entry.description, entry.registered, *sections))
        return tuple(out)

    @property
    def n_workers(self) -> int:
        """Registered workers simulated: ``workers`` times ``scale`` (at least one)."""
        return max(1, round(self.workers * self.scale))

    @property
    def batches_per_day(self) -> float:
        """Batches posted per day over all requesters: the requesters' rate times ``scale``."""
        return self.requesters.batches_per_day * self.scale

    @property
    def adaptive(self) -> bool:
        """True when labour supply adapts in this run: the switch is on and a profile has a
        ``supply`` section or workers join."""
        return self.supply.adaptive and (
            self.supply.joining is not None
            or any(p.supply is not None for p in self.profiles.values()))

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/YAML-ready dict that :func:`load_scenario` turns back into this scenario."""
        return self.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class MarketPlatform:
    """One platform of a market as a run uses it: its name, size and resolved sections."""

    name: str
    description: str
    registered: int  # at full size
    platform: Platform
    requesters: Requesters


def horizon_days(scenario: Scenario) -> int:
    """Number of calendar days the horizon touches (day 0 is a Monday)."""
    return math.ceil(scenario.horizon / DAY)
