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

    def __init__(self, seed: int, prefix: tuple[int, ...] = ()) -> None:
        self.seed = int(seed)
        self.prefix = prefix

    def rng(self, name: str, *keys: int) -> np.random.Generator:
        """Generator for component ``name`` (and sub-keys such as a requester id)."""
        key = (*self.prefix, zlib.crc32(name.encode()), *(int(k) for k in keys))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    def within(self, name: str, *keys: int) -> Streams:
        """The streams of one part of the model (e.g. platform 3 of a market): the same names
        give generators independent of this factory's and of every other part's."""
        return Streams(self.seed, (*self.prefix, zlib.crc32(name.encode()),
                                   *(int(k) for k in keys)))
