"""Adaptive labour supply as a scenario states it: how workers react to what the market pays.

Without these sections every worker's sessions are drawn before the run and nothing on the
board changes them (supply fixed: the short run). With them, per profile (``supply``):

* ``patience``: a worker gives up a session after a stretch without a claim;
* ``continuation``: a worker who found work in a session may extend it;
* ``target``: a worker with a daily or monthly earnings target lengthens its sessions while
  below it and skips sessions once above it (target earners, Horton and Chilton 2010);
* ``leaving``: a worker whose recent pay per hour online falls short of what it expects
  leaves the platform, with a hazard rising as the ratio falls (quitting on low income is the
  central mechanism of agent-based models of crowd work, Jager et al. 2019);
* ``learning``: a worker's effort per task falls with the tasks it has done;

and for the market (``supply`` at the top of the scenario): ``joining``, new registrations
arriving as a Poisson process, optionally raised by recent market pay (word of mouth), and
``adaptive``, the switch that turns all of it off to compare the short run with the long run
on the same scenario. Each worker's propensities (patience, need, expectation, quit threshold,
learning rate) are drawn when it is created, from named streams of their own.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from sim.foundation.units import DAY, HOUR, parse_duration
from sim.scenario.fields import Dist, DurationDist, StrictModel, coerce_one

MAX_RATE = 30.0
"""Largest quit rate (per 30 days): about one exit a day, far above any published figure."""
Window = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=365 * DAY)]


class Continuation(StrictModel):
    """A worker who claimed work during a session may stay on: at the session's planned end it
    extends the session by a ``duration`` draw with ``probability``.

    Source: the other side of discouragement; workers who find tasks keep working while
    tasks are there (Casilli et al. 2019 interviews; no published rate: an assumption)."""

    probability: float = Field(ge=0, le=1, description=(
        "Chance that a worker who claimed a task during the session extends it."))
    duration: DurationDist = Field(description="How long the extension lasts.")


class Target(StrictModel):
    """Earnings targets: below the target a worker lengthens its sessions, above it skips them.

    The ratio r = earned / target is today's earnings over the daily target or the month's
    earnings over the monthly target (30-day months), the smaller of the two when both are set
    (the binding target). At a session's planned end, with the monthly target pro-rated to
    the time of the month, a shortfall s = 1 - r > 0 makes the worker extend the session by an
    ``extension`` draw with probability 1 - exp(-strength * s). At a session's planned start,
    a worker whose targets are all reached (r >= 1) skips the session with probability
    1 - exp(-strength * r).

    Source: target earners on MTurk, Horton and Chilton (2010), "The labor economics of paid
    crowdsourcing" (EC): some workers aim at round earnings totals and stop once they reach
    them."""

    daily: Dist | None = Field(default=None, description=(
        "Per-worker daily earnings target (default: none)."))
    monthly: Dist | None = Field(default=None, description=(
        "Per-worker earnings target per 30 days (default: none)."))
    strength: float = Field(default=1.0, ge=0, le=100, description=(
        "How strongly the worker reacts to the gap to its target (0: not at all)."))
    extension: DurationDist = Field(default_factory=lambda: coerce_one(HOUR), description=(
        "How long a session is extended while below target."))

    @model_validator(mode="after")
    def _some_target(self) -> Target:
        if self.daily is None and self.monthly is None:
            raise ValueError("give a 'daily' or a 'monthly' target (or both)")
        return self


class Leaving(StrictModel):
    """Quitting the platform on low pay. Once a day each registered worker compares its
    earnings per hour online over the last ``window`` with its ``expectation``; the ratio r
    gives the quit rate (per 30 days)

        rate(r) = base_rate + (max_rate - base_rate) / (1 + exp(steepness * (r - midpoint)))

    (logistic: max_rate for a worker earning nothing, base_rate for one earning well above its
    expectation). A worker with less than ``min_hours`` online in the window has no recent pay
    to judge and quits at ``base_rate``. A worker leaves when its cumulative hazard passes an
    exponential threshold drawn when it registers, so that with a constant rate tenures are
    exactly exponential.

    Sources: quitting on low income is the central mechanism of the agent-based model of
    crowd work of Jäger et al. (2019); the MTurk population turns over with a half-life of
    12 to 18 months (Difallah, Filatova and Ipeirotis 2018, row
    ``mturk_worker_half_life_months``), which ``scenarios/mturk_2018.yaml`` fits."""

    expectation: Dist = Field(description="Per-worker pay per hour online the worker expects.")
    window: Window = Field(default=14 * DAY, description=(
        "How far back the worker looks at its pay."))
    base_rate: float = Field(ge=0, le=MAX_RATE, description=(
        "Quit rate per 30 days of a worker paid well above its expectation."))
    max_rate: float = Field(ge=0, le=MAX_RATE, description=(
        "Quit rate per 30 days of a worker earning nothing."))
    midpoint: float = Field(default=0.5, ge=0, le=100, description=(
        "Ratio of pay to expectation at which the rate is halfway between the two."))
    steepness: float = Field(default=8.0, ge=0, le=1000, description=(
        "How sharply the rate changes around the midpoint (0: a constant rate)."))
    min_hours: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = Field(
        default=HOUR, description="Least time online in the window for pay to be judged.")


class Learning(StrictModel):
    """Workers get faster with practice: the effort of a task is multiplied by
    max(floor, (1 + n) ** -rate), n the tasks the worker has completed.

    Source: the power law of practice (Newell and Rosenbloom 1981), asked for in crowd-work
    models; the floor keeps practice from making tasks arbitrarily fast."""

    rate: Dist = Field(description=(
        "Per-worker learning-curve exponent (0.1: the tenth task takes 79 % of the first "
        "one's time)."))
    floor: float = Field(default=0.5, gt=0, le=1, description=(
        "Smallest multiplier: practice never makes a task faster than this."))


class ProfileSupply(StrictModel):
    """How a profile's workers adapt (each part optional; see docs/labour-supply.md). With
    none of them, or with ``supply.adaptive: false``, the profile's sessions are fixed.

    ``patience`` models discouragement: most micro-workers want more work than they find
    (ILO 2018 survey: 88 %, row ``ilo_share_want_more_work``), and a worker who finds nothing
    stops looking; the ILO's 20 unpaid minutes per paid hour (row
    ``ilo_unpaid_minutes_per_paid_hour``, held out in calibration) is the figure it moves."""

    patience: DurationDist | None = Field(default=None, description=(
        "Per-worker time without a claim after which a session is given up (counted from "
        "going online or from the end of the last task)."))
    continuation: Continuation | None = None
    target: Target | None = None
    leaving: Leaving | None = None
    learning: Learning | None = None


class Joining(StrictModel):
    """New registrations: a Poisson process of ``rate`` per day (full-size market; times
    ``scale``), each newcomer drawn from the profiles' shares with the same kinds of draws as
    the workers present at the start. With ``pay_elasticity`` > 0 the rate follows recent
    market pay (word of mouth): rate * (pay / reference_pay) ** pay_elasticity, at most
    ``max_factor`` times the rate, where pay is the mean earnings per hour online of the
    workers online over the last ``window``.

    Source: arrivals roughly balance departures on MTurk (Difallah et al. 2018, row
    ``mturk_arrivals_over_departures``); word of mouth is an assumption."""

    rate: float = Field(ge=0, le=1e9, description="Registrations per day (full-size market).")
    pay_elasticity: float = Field(default=0.0, ge=0, le=10, description=(
        "How strongly registrations follow recent pay (0: a constant rate)."))
    reference_pay: float = Field(default=1.0, gt=0, le=1e6, description=(
        "Pay per hour online at which the rate is ``rate``."))
    max_factor: float = Field(default=3.0, ge=1, le=100, description=(
        "Cap on the rate, as a multiple of ``rate``."))
    window: Window = Field(default=14 * DAY, description="How far back market pay is measured.")


class MarketSupply(StrictModel):
    """The market-level switch and registrations."""

    adaptive: bool = Field(default=True, description=(
        "false: supply fixed (every behaviour and registration ignored: the short run); "
        "true: workers adapt (the long run)."))
    joining: Joining | None = None

