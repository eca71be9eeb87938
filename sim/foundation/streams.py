"""Named random streams: one child of the run's seed per model component.

Each stream is keyed by a stable name (and optional integers), so adding a stream or changing
the allocation rule never shifts the numbers another component draws. This gives common random
numbers across policy variants.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Factory of independent generators derived from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def rng(self, name: str, *keys: int) -> np.random.Generator:
        """Generator for component ``name`` (and sub-keys such as a requester id)."""
        key = (zlib.crc32(name.encode()), *(int(k) for k in keys))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))
