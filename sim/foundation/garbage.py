"""Pausing Python's cyclic garbage collector while a run builds its state.

A full-size run's setup makes millions of small containers (each worker's apps, the per-worker
lists of every board), none of them garbage. The collector runs a generation whenever
allocations outnumber deallocations by its threshold, and its oldest generation walks every
tracked object: measured on the whole French market, collections were 1.6 s of a 3.6 s setup
(BENCHMARKS.md). Reference counting still frees everything as usual while the collector is
paused; it only stops looking for cycles, which the setup does not leave behind.

Pauses nest and may overlap across threads: the collector is enabled again when the last
pause ends, and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector disabled (see the module docstring)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
