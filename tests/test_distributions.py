"""The scenario distributions (``sim.scenario.distributions``) against their own formulas: the
sample mean agrees with ``mean()`` within standard errors, the quantile function is monotone and
turns uniform draws into draws of the distribution (two-sample KS test), and the mean of the
truncated Pareto agrees with numerical integration of its density. Fixed seeds throughout."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import integrate, stats

from sim.scenario.distributions import Distribution, Pareto

ADAPTER = TypeAdapter(Distribution)
N = 200_000
"""Draws per mean check: the standard error of the mean is the sample sd / sqrt(N)."""
Z = 5.0
"""Standard errors allowed: with fixed seeds a test is deterministic; 5 keeps a correct
distribution's chance of failing on a new seed below one in a million."""

CASES: list[Any] = [
    pytest.param({"dist": "constant", "value": 2.5}, id="constant"),
    pytest.param({"dist": "exponential", "mean": 3.0}, id="exponential"),
    pytest.param({"dist": "uniform", "low": -1.0, "high": 4.0}, id="uniform"),
    pytest.param({"dist": "lognormal", "median": 2.0, "sigma": 0.6}, id="lognormal"),
    pytest.param({"dist": "lognormal", "median": 2.0, "sigma": 0.0}, id="lognormal-sigma0"),
    pytest.param({"dist": "choice", "values": [1.0, 5.0, 9.0]}, id="choice"),
    pytest.param({"dist": "choice", "values": [1.0, 5.0, 9.0], "weights": [3.0, 1.0, 0.0]},
                 id="choice-weighted"),
    pytest.param({"dist": "pareto", "alpha": 3.0, "min": 2.0}, id="pareto"),
    pytest.param({"dist": "pareto", "alpha": 1.5, "min": 1.0, "max": 50.0}, id="pareto-max"),
    pytest.param({"dist": "pareto", "alpha": 1.0, "min": 1.0, "max": 20.0}, id="pareto-alpha1"),
    pytest.param({"dist": "pareto", "alpha": 0.3, "min": 2.0, "max": 100.0}, id="pareto-alpha0.3"),
]
"""Every kind, with the branches of its formulas (weights, sigma 0, Pareto with and without
``max``, alpha 1 and below 1); each has a finite variance, so the mean check applies."""


@pytest.mark.parametrize("spec", CASES)
def test_sample_mean_matches_mean(spec: dict[str, Any]) -> None:
    dist = ADAPTER.validate_python(spec)
    x = dist.sample(np.random.default_rng(11), N)
    se = x.std(ddof=1) / math.sqrt(N)
    assert abs(x.mean() - dist.mean()) <= Z * se + 1e-12 * abs(dist.mean()), (x.mean(), se)


@pytest.mark.parametrize("spec", CASES)
def test_ppf_is_monotone(spec: dict[str, Any]) -> None:
    dist = ADAPTER.validate_python(spec)
    q = np.concatenate([np.linspace(0, 1, 1001)[1:-1], [1e-12, 1 - 1e-12]])
    q.sort()
    values = dist.ppf(q)
    assert values.shape == q.shape
    assert (np.diff(values) >= 0).all()
    support = dist.support()
    assert (values >= support.low).all() and (values <= support.high).all()


@pytest.mark.parametrize("spec", CASES)
def test_ppf_of_uniforms_is_distributed_like_sample(spec: dict[str, Any]) -> None:
    """Inverse-transform draws and the distribution's own draws, from independent seeds,
    pass a two-sample Kolmogorov-Smirnov test at the 0.1 % level."""
    dist = ADAPTER.validate_python(spec)
    n = 20_000
    by_ppf = dist.ppf(np.random.default_rng(21).random(n))
    drawn = dist.sample(np.random.default_rng(22), n)
    assert stats.ks_2samp(by_ppf, drawn).pvalue > 1e-3


@pytest.mark.parametrize(("alpha", "low", "high"), [
    (0.3, 2.0, 100.0), (0.999, 1.0, 20.0), (1.0, 1.0, 20.0), (1.5, 1.0, 50.0), (2.5, 3.0, 7.0),
    (1.2, 1.0, 1e6),
])
def test_truncated_pareto_mean_matches_integration(alpha: float, low: float, high: float) -> None:
    """The closed form against the integral of x times the truncated density."""
    dist = Pareto(dist="pareto", alpha=alpha, min=low, max=high)
    mass = 1 - (low / high) ** alpha

    def density(x: float) -> float:
        return alpha * low**alpha * x ** (-alpha - 1) / mass

    total, _ = integrate.quad(density, low, high, limit=200, points=[low * 10])
    mean, _ = integrate.quad(lambda x: x * density(x), low, high, limit=200, points=[low * 10])
    assert total == pytest.approx(1.0, rel=1e-8)
    assert dist.mean() == pytest.approx(mean, rel=1e-8)


def test_pareto_with_a_range_of_one_value_is_constant() -> None:
    """``max == min`` leaves no tail: every draw, quantile and the mean are ``min``."""
    dist = Pareto(dist="pareto", alpha=1.5, min=4.0, max=4.0)
    assert dist.mean() == 4.0
    assert (dist.ppf(np.array([0.0, 0.5, 0.99])) == 4.0).all()
    assert (dist.sample(np.random.default_rng(0), 10) == 4.0).all()
