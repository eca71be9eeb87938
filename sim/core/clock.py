"""The two things the model asks of SimPy's clock beyond its public API.

* :func:`delay_until`: the delay from now to an absolute time. SimPy's clock reaches a time as
  a sum of delays, which may overshoot the intended float by a rounding error, so a difference
  of times can come out a hair below zero; SimPy refuses negative delays. Every delay computed
  from a difference of times goes through here.
* :func:`events_scheduled`: how many events the environment has scheduled, the cost measure
  recorded in every manifest. SimPy numbers events with a private counter (``env._eid``, an
  ``itertools.count``); reading it is wrapped here, and ``tests/test_clock.py`` fails clearly if
  a SimPy release renames it.
"""

from __future__ import annotations

import itertools

import simpy


def delay_until(env: simpy.Environment, when: float) -> float:
    """Seconds from ``env.now`` to ``when``, never negative."""
    return max(when - env.now, 0.0)


def events_scheduled(env: simpy.Environment) -> int:
    """Number of events ``env`` has scheduled so far (SimPy's event id counter)."""
    counter = getattr(env, "_eid", None)
    if not isinstance(counter, itertools.count):
        raise RuntimeError(
            "simpy.Environment no longer has the event counter '_eid' (an itertools.count) "
            f"that microwork reads to count events (SimPy {simpy.__version__}); update "
            "sim.clock.events_scheduled")
    # count() has no peek: its repr holds the next value, e.g. "count(1234)"
    return int(repr(counter)[len("count("):-1])
