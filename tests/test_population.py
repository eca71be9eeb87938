"""``apportion`` (``sim.core.population``), which splits the registered workers over profiles
and regions: on any total and any weights, the counts sum to the total and each is within one
of its exact share (largest remainder); and ``_first_in_order``, the partial sort of the
platform draws, equal to a stable argsort's first columns. Checked by Hypothesis
(derandomized: the same examples every run)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.population import _first_in_order, apportion

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


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_first_in_order_is_the_stable_argsort_s_first_columns(rows: int, cols: int, k: int,
                                                            seed: int) -> None:
    """The partial selection of each row's k smallest keys gives exactly the first k columns
    of a stable argsort, ties (few distinct values, infinities) and k >= columns included."""
    rng = np.random.default_rng(seed)
    keys = rng.choice([0.5, 1.0, 2.0, np.inf, *rng.exponential(size=3)], size=(rows, cols))
    expected = np.argsort(keys, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(_first_in_order(keys, k)[:, :k], expected)
