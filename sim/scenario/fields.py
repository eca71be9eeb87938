"""The field types of a scenario: durations, distributions checked against what each field
allows, shares, read-only mappings and the documented maxima. Shared by the market schema
(:mod:`sim.scenario.schema`) and the labour-supply sections (:mod:`sim.scenario.supply`)."""

from __future__ import annotations

import copy
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from sim.foundation.units import DAY, parse_duration
from sim.scenario.distributions import (
    Constant,
    Distribution,
    check_dist_name,
    coerce,
    coerce_duration,
)


class StrictModel(BaseModel):
    """Base of every scenario section: unknown keys are errors, values are read-only, and NaN
    and infinity are refused in every number."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)


SHARE_TOLERANCE = 1e-6


class FrozenDict(dict):
    """A dict that refuses changes, so a validated scenario cannot be altered in place."""

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a validated scenario is read-only; use sim.override to change it")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return FrozenDict, (dict(self),)

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return FrozenDict(copy.deepcopy(dict(self), memo))


def sums_to_one(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    if shares and abs(total - 1) > SHARE_TOLERANCE:
        raise ValueError(f"shares must sum to 1, got a sum of {total:.6g}")
    return shares


class Within:
    """Validator of a distribution field: every value the distribution can draw must be one the
    field can take (a speed that can be 0, a probability above 1, a negative duration are
    refused, not clipped), and with ``finite_mean`` its mean must be finite."""

    def __init__(self, low: float = 0.0, high: float = math.inf, low_included: bool = True,
                 finite_mean: bool = False) -> None:
        self.low, self.high, self.low_included = low, high, low_included
        self.finite_mean = finite_mean

    def describe(self) -> str:
        """The allowed values in words (for the scenario reference and messages)."""
        low = f"{'≥' if self.low_included else '>'} {self.low:g}"
        text = f"values {low}" if self.high == math.inf else \
            f"values in {'[' if self.low_included else '('}{self.low:g}, {self.high:g}]"
        return text + (", finite mean" if self.finite_mean else "")

    def __call__(self, dist: Any) -> Any:
        s = dist.support()
        if s.low < self.low or (s.low == self.low and s.low_included and not self.low_included):
            rule = "must not be negative" if self.low == 0 and self.low_included else \
                "must be positive" if self.low == 0 else f"must be {self.describe()}"
            raise ValueError(f"{rule}: this {dist.dist} distribution can draw {s.low:g}")
        if s.high > self.high:
            raise ValueError(f"must not exceed {self.high:g}: this {dist.dist} distribution can "
                             f"draw {s.high:g}")
        if self.finite_mean and not math.isfinite(dist.mean()):
            raise ValueError(f"the {dist.dist} distribution has no finite mean here; give a "
                             "'max' or a larger alpha")
        return dist


def _dist(within: Within, duration: bool = False) -> Any:
    """A distribution field (a bare number is a constant; durations may carry units) whose
    draws must satisfy ``within``."""
    return Annotated[
        Distribution,
        BeforeValidator(check_dist_name),
        BeforeValidator(coerce_duration if duration else coerce),
        AfterValidator(within),
    ]


MAX_HORIZON = 3660 * DAY
"""Longest simulated horizon (about ten years)."""
MAX_COUNT = 10**9
"""Largest number of workers and of tasks in a cap (counts beyond it are not a market)."""
MAX_REQUESTERS = 100_000
"""Most requesters (each has its own arrival process, drawn in turn: MTurk has some tens of
thousands of active requesters)."""

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
NONNEGATIVE = Within(0.0)
Dist = _dist(NONNEGATIVE)
DurationDist = _dist(NONNEGATIVE, duration=True)
PositiveDist = _dist(Within(0.0, low_included=False))
ProbabilityDist = _dist(Within(0.0, 1.0))
BatchSizeDist = _dist(Within(0.0, finite_mean=True))
Shares = Annotated[
    dict[str, Annotated[float, Field(ge=0, le=1)]],
    AfterValidator(sums_to_one),
    AfterValidator(FrozenDict),
]


def coerce_one(value: float) -> Any:
    """A validated constant distribution, used for defaults."""
    return Constant(dist="constant", value=value)
