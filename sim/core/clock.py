"""The things the model asks of SimPy's clock beyond its public API.

* :func:`delay_until`: the delay from now to an absolute time. SimPy's clock reaches a time as
  a sum of delays, which may overshoot the intended float by a rounding error, so a difference
  of times can come out a hair below zero; SimPy refuses negative delays. Every delay computed
  from a difference of times goes through here.
* :func:`events_scheduled`: how many events the environment has scheduled, the cost measure
  recorded in every manifest. SimPy numbers events with a private counter (``env._eid``, an
  ``itertools.count``); reading it is wrapped here, and ``tests/test_run_limits.py`` fails
  clearly if a SimPy release renames it.
* :class:`Clock`: SimPy's environment with one *side call*, a callback due at a time that the
  event loop runs without it being an event. The race engine's arrivals at the board use it:
  at full market size nearly every task is claimed by an arrival, and an arrival as a SimPy
  ``Timeout`` costs an object, a push and a pop on the heap of every pending event; the engine
  keeps its own heap of arrivals and only needs "run me at the earliest of them". The clock
  reads SimPy's private ``_queue`` and takes over its ``_now``, also pinned by a test.
* :meth:`Clock.call_at`: a callback at a time, scheduled exactly as a ``Timeout`` (same time,
  priority and event number, so the same order and count of events) but without building
  one: the queue's entry holds the callback and its value. The completion of every task and
  the chain of session starts and ends are scheduled this way; the completion of a task
  claimed by an idle worker pushes that same entry itself (``Platform.claim``: a call saved
  once a task).
* :attr:`Clock.now` is a plain attribute (SimPy's is a property over ``_now``, which the clock
  turns into a property over ``now`` for SimPy's own loop).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import NORMAL


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


class Clock(simpy.Environment):
    """An environment that also runs one side call at ``side_time`` (``inf``: none).

    The call runs when the loop reaches its time, before any event due later and after the
    events due at the same time that were scheduled before it (its time is compared with the
    next event's, strictly), with ``now`` set to its time; it may schedule events and move
    ``side_time`` (it must move it, or it runs again at once). ``run(until=...)`` stops before
    a side call due at ``until``, as it does before an ordinary event.
    """

    now: float = 0.0
    """The current time, a plain attribute: SimPy's ``now`` is a property over ``_now``, and the
    hot path reads the time several times a task (a property call each)."""

    @property
    def _now(self) -> float:
        """SimPy's private clock, read and written by its own loop: kept in :attr:`now`."""
        return self.now

    @_now.setter
    def _now(self, value: float) -> None:
        self.now = value

    def __init__(self) -> None:
        super().__init__()
        self.side_time = math.inf
        self.side_call: Callable[[], None] = _nothing

    def call_at(self, when: float, callback: Callable[[Any], None], value: Any) -> None:
        """Call ``callback(value)`` at the time ``when`` (not before now), as an event scheduled
        now: with ``when = now + delay``, exactly as ``timeout(delay, value)`` would be (same
        time, priority and event number), but the queue's entry is the callback and its
        value, not an event."""
        heappush(self._queue, (when, NORMAL, next(self._eid), callback, value))

    def step(self) -> None:
        """Process events up to the next SimPy event, that one included (SimPy's ``run`` calls
        ``step`` until its ``until`` event stops it, so one call may do many steps: a call a
        step costs time at millions of tasks).

        In time order: the side call when it is due before the next event; a callback of
        :meth:`call_at` (an entry of five: time, priority, number, callback, value), called
        directly; then SimPy's own next event, through its step.
        """
        queue = self._queue
        while queue:
            head = queue[0]
            if self.side_time < head[0]:
                self.now = self.side_time
                self.side_call()
            elif len(head) == 5:
                self.now, _, _, callback, value = heappop(queue)
                callback(value)
            else:
                break
        super().step()


def _nothing() -> None:
    """The side call of a clock that has none."""
