"""Probability distributions declared by name in scenario files.

Each distribution is a small frozen pydantic model with a ``dist`` tag, its parameters and a
vectorised ``sample(rng, size)``; the simulation draws whole arrays at once from named
streams, so a distribution never owns random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.foundation.units import parse_duration

MAX_MAGNITUDE = 1e15
"""Largest absolute value of a distribution's parameter (beyond it sums of money or time would
lose their precision or overflow)."""
MAX_SIGMA = 10.0
"""Largest log-scale spread of a lognormal (beyond it draws overflow to infinity)."""
MIN_UNTRUNCATED_ALPHA = 0.5
"""Smallest tail index of a Pareto without ``max`` (below it draws overflow)."""


@dataclass(frozen=True)
class Support:
    """The values a distribution can draw: from ``low`` to ``high`` (``low`` itself excluded
    when ``low_included`` is false, as for the exponential, whose draws are all above 0)."""

    low: float
    high: float
    low_included: bool = True

    def describe(self) -> str:
        """The range in words, for error messages ("[0, 1]", "(0, inf)")."""
        return f"{'[' if self.low_included else '('}{self.low:g}, {self.high:g}]".replace(
            "inf]", "inf)")


class _Dist(BaseModel):
    # parameters are finite numbers: NaN and infinity are refused when a scenario is read
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _magnitude(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # -0.0 is 0 (numpy refuses a lognormal sigma of -0.0 as negative)
            data = {k: 0.0 if isinstance(v, float) and v == 0 else v for k, v in data.items()}
            for key, value in data.items():
                values = value if isinstance(value, list | tuple) else [value]
                for v in values:
                    if isinstance(v, int | float) and not isinstance(v, bool) and \
                            math.isfinite(v) and abs(v) > MAX_MAGNITUDE:
                        raise ValueError(f"{key}: {v:g} is beyond the largest allowed "
                                         f"magnitude, {MAX_MAGNITUDE:g}")
        return data

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` independent values."""
        raise NotImplementedError

    def mean(self) -> float:
        """Expected value (inf when it does not exist)."""
        raise NotImplementedError

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Quantile function: the values below which a share ``q`` of draws fall."""
        raise NotImplementedError

    def support(self) -> Support:
        """The range of values a draw can take (checked against what a field allows)."""
        raise NotImplementedError


class Constant(_Dist):
    """Always the same value: for inputs that are known exactly (caps, fixed prices)."""

    dist: Literal["constant"]
    value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)

    def mean(self) -> float:
        return self.value

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return np.full(np.shape(q), self.value)

    def support(self) -> Support:
        return Support(self.value, self.value)


class Exponential(_Dist):
    """Memoryless waiting times (Poisson refreshes, textbook service times)."""

    dist: Literal["exponential"]
    mean_: float = Field(alias="mean", gt=0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean_, size)

    def mean(self) -> float:
        return self.mean_

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return -self.mean_ * np.log1p(-np.asarray(q))

    def support(self) -> Support:
        return Support(0.0, math.inf, low_included=False)


class Uniform(_Dist):
    """Equally likely values between ``low`` and ``high`` (session start within a window)."""

    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def ppf(self, q: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(q)

    def support(self) -> Support:
        return Support(self.low, self.high)


class Lognormal(_Dist):
    """Right-skewed positive values given by their median and log-scale spread (durations, pay)."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=MAX_SIGMA)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(np.log(self.median), self.sigma, size)

    def mean(self) -> float:
        return float(self.median * np.exp(self.sigma**2 / 2))

    def ppf(self, q: np.ndarray) -> np.ndarray:
        z = np.array([NormalDist().inv_cdf(x) for x in np.ravel(q)]).reshape(np.shape(q))
        return self.median * np.exp(self.sigma * z)

    def support(self) -> Support:
        if self.sigma == 0:
            return Support(self.median, self.median)
        return Support(0.0, math.inf, low_included=False)


class Choice(_Dist):
    """A discrete/empirical distribution: ``values`` drawn with ``weights`` (default equal)."""

    dist: Literal["choice"]
    values: tuple[float, ...] = Field(min_length=1)
    weights: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 with a positive sum")
        return self

    def _p(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), size=size, p=self._p())

    def mean(self) -> float:
        p = self._p()
        return float(np.average(self.values, weights=p))

    def ppf(self, q: np.ndarray) -> np.ndarray:
        p = self._p()
        cdf = np.cumsum(np.full(len(self.values), 1 / len(self.values)) if p is None else p)
        index = np.minimum(np.searchsorted(cdf, np.asarray(q), side="right"), len(cdf) - 1)
        return np.asarray(self.values, dtype=float)[index]

    def support(self) -> Support:
        p = self._p()
        drawn = [v for i, v in enumerate(self.values) if p is None or p[i] > 0]
        return Support(min(drawn), max(drawn))


class Pareto(_Dist):
    """Power law above ``min``, optionally truncated at ``max``: batch sizes, requester activity."""

    dist: Literal["pareto"]
    alpha: float = Field(gt=0)
    min: float = Field(gt=0)
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Pareto:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        if self.max is None and self.alpha < MIN_UNTRUNCATED_ALPHA:
            raise ValueError(f"alpha below {MIN_UNTRUNCATED_ALPHA} needs a 'max': such a tail "
                             f"draws values too large for arithmetic (got alpha {self.alpha})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.ppf(rng.random(size))

    def support(self) -> Support:
        return Support(self.min, math.inf if self.max is None else self.max)

    def _tail(self) -> float:
        """Probability mass of the untruncated Pareto within [min, max] (1 without max); 0 when
        max is so close to min, or alpha so small, that the range is a single value."""
        return 1.0 if self.max is None else 1 - (self.min / self.max) ** self.alpha

    def ppf(self, q: np.ndarray) -> np.ndarray:
        u = np.asarray(q)
        tail = self._tail()
        if tail <= 0:
            return np.full(np.shape(u), self.min)
        if self.max is None:
            return self.min * (1 - u) ** (-1 / self.alpha)
        # inverse CDF of the Pareto truncated to [min, max]
        return self.min * (1 - u * tail) ** (-1 / self.alpha)

    def mean(self) -> float:
        a, m, tail = self.alpha, self.min, self._tail()
        if tail <= 0:
            return m
        if self.max is None:
            return a * m / (a - 1) if a > 1 else float("inf")
        big = self.max
        if a == 1:
            return float(m * np.log(big / m) / tail)
        return float(a * m**a * (big ** (1 - a) - m ** (1 - a)) / ((1 - a) * tail))


Distribution = Annotated[
    Constant | Exponential | Uniform | Lognormal | Choice | Pareto, Field(discriminator="dist")
]
DIST_NAMES = ("constant", "exponential", "uniform", "lognormal", "choice", "pareto")
_DURATION_KEYS = ("value", "mean", "low", "high", "median", "values", "min", "max")


def coerce(value: Any) -> Any:
    """Accept a bare number as a constant distribution before validation."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return value


def coerce_duration(value: Any) -> Any:
    """Like :func:`coerce` but also converts duration strings ("5min") in the parameters."""
    value = coerce(parse_duration(value) if isinstance(value, str) else value)
    if isinstance(value, dict):
        out = dict(value)
        for key in _DURATION_KEYS:
            if isinstance(out.get(key), str):
                out[key] = parse_duration(out[key])
            elif key == "values" and isinstance(out.get(key), list):
                out[key] = [parse_duration(v) if isinstance(v, str) else v for v in out[key]]
        return out
    return value


def check_dist_name(value: Any) -> Any:
    """Give a clear message for an unknown ``dist`` name before pydantic's union error."""
    if isinstance(value, dict) and "dist" in value and value["dist"] not in DIST_NAMES:
        allowed = ", ".join(DIST_NAMES)
        raise ValueError(f"unknown distribution {value['dist']!r}; allowed: {allowed}")
    return value
