"""``apportion`` (``sim.core.population``), which splits the registered workers over profiles
and regions: on any total and any weights, the counts sum to the total and each is within one
of its exact share (largest remainder), checked by Hypothesis (derandomized: the same examples
every run)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.population import apportion

weights = st.lists(st.floats(0.0, 1e6, allow_nan=False, allow_subnormal=False),
                   min_size=1, max_size=12).filter(lambda w: sum(w) > 0)
near_one = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8).filter(
    lambda w: sum(w) > 0).map(lambda w: [x / sum(w) * (1 + 1e-7) for x in w])
"""Shares summing to 1 only within the validation tolerance, as in a scenario file."""


@settings(max_examples=300, deadline=None, derandomize=True)
@given(total=st.integers(0, 10**9), shares=st.one_of(weights, near_one))
def test_apportion_sums_to_total_within_one_of_each_share(total: int,
                                                          shares: list[float]) -> None:
    counts = apportion(total, shares)
    assert counts.dtype.kind == "i" and len(counts) == len(shares)
    assert counts.sum() == total and (counts >= 0).all()
    exact = np.asarray(shares) / sum(shares) * total
    assert np.all(np.abs(counts - exact) < 1 + 1e-6)
    assert (counts[np.asarray(shares) == 0] == 0).all()
