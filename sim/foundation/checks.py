"""Checks of the arguments of the public API, so that a wrong type or value fails at once with
a message naming the argument, before any run (not deep inside numpy or a worker process)."""

from __future__ import annotations

import numpy as np

MAX_SEED = 2**63 - 1
"""Largest seed: seeds are stored in 64-bit integer columns of the result tables."""


def whole_number(value: object, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int if it is a whole number (not a bool, float or string) within
    [``minimum``, ``maximum``]; else a TypeError (wrong type) or ValueError (out of range)
    naming the argument ``name``."""
    top = "" if maximum is None else f" to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected a whole number from {minimum}{top}, got "
                        f"{type(value).__name__} {value!r}"[:200])
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name}: expected a whole number from {minimum}{top}, got {value}")
    return int(value)


def check_seed(seed: object, name: str = "seed") -> int:
    """A seed: a whole number from 0 to :data:`MAX_SEED` (see :func:`whole_number`)."""
    return whole_number(seed, name, 0, MAX_SEED)
