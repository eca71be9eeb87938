"""Keeping Python's cyclic garbage collector off a run's state: paused while the run builds it,
and the state frozen out of the collector's reach while the run uses it.

A full-size run's setup makes millions of small containers (each worker's apps, the per-worker
lists of every board), none of them garbage. The collector runs a generation whenever
allocations outnumber deallocations by its threshold, and its oldest generation walks every
tracked object: measured on the whole French market, collections were 1.6 s of a 3.6 s setup
(BENCHMARKS.md). Reference counting still frees everything as usual while the collector is
paused; it only stops looking for cycles, which the setup does not leave behind.

Once built, the state lives as long as the run, and the collector would still walk it: the
first collection after the pause walks all of it, and so does every later collection of the
oldest generation. ``collector_paused(freeze=True)`` therefore moves every object alive at the
end of the pause into the collector's permanent generation (``gc.freeze``) before the collector
runs again, and :func:`thawed_after` moves them back when the run ends (``gc.unfreeze``): the
run's collections then only walk what the run itself allocates (one day of the whole market,
measured: 5 % fewer instructions in the simulation).

Pauses nest and may overlap across threads: the collector is enabled again when the last
pause ends, and only if it was enabled when the first began. Freezes that overlap across
threads only cost speed: the first thaw thaws everything.
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
def collector_paused(freeze: bool = False) -> Iterator[None]:
    """Run the body with the cyclic garbage collector disabled; with ``freeze``, every object
    alive when the body ends (normally) is then frozen out of its reach until
    :func:`thawed_after` ends (see the module docstring)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
        if freeze:  # before the collector can run again: its next run would walk all of it
            gc.freeze()
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


@contextmanager
def thawed_after() -> Iterator[None]:
    """Run the body, then make every frozen object collectable again (even if it raises)."""
    try:
        yield
    finally:
        gc.unfreeze()
