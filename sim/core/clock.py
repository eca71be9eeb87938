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
  keeps its own heap of arrivals and only needs "run me at the earliest of them". The side
  call reads and sets SimPy's private ``_queue`` and ``_now``, also pinned by a test.
* :meth:`Clock.call_later`: a callback after a delay, scheduled exactly as a ``Timeout`` (same
  time, priority and event number, so the same order and count of events) but without
  building one: the completion of every task is scheduled this way; :meth:`Clock.call_at`
  the same at an absolute time (the chain of session starts and ends).
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

    def __init__(self) -> None:
        super().__init__()
        self.side_time = math.inf
        self.side_call: Callable[[], None] = _nothing

    def call_later(self, delay: float, callback: Callable[[Any], None], value: Any) -> None:
        """Call ``callback(event)`` after ``delay`` seconds, ``event.value`` being ``value``:
        what ``timeout(delay, value).callbacks.append(callback)`` does, without a Timeout."""
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), _Call(callback, value)))

    def call_at(self, when: float, callback: Callable[[Any], None], value: Any) -> None:
        """Call ``callback(event)`` at the time ``when`` exactly (not before now), as an event
        scheduled now; ``event.value`` is ``value``."""
        heappush(self._queue, (when, NORMAL, next(self._eid), _Call(callback, value)))

    def step(self) -> None:
        """Run the side call if it is due before the next event, else process that event (a
        scheduled callback of :meth:`call_later` or :meth:`call_at` directly: it never fails
        and has one callback, so SimPy's checks for failed events have nothing to do)."""
        queue = self._queue
        if queue:
            head = queue[0]
            if self.side_time < head[0]:
                self._now = self.side_time
                self.side_call()
                return
            if type(head[3]) is _Call:
                self._now, _, _, call = heappop(queue)
                callbacks, call.callbacks = call.callbacks, None
                for callback in callbacks:
                    callback(call)
                return
        super().step()


class _Call:
    """A scheduled callback: what SimPy's loop reads of an event (``callbacks``, ``_ok``) and
    the ``value`` the callback reads."""

    __slots__ = ("_ok", "callbacks", "value")

    def __init__(self, callback: Callable[[Any], None], value: Any) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = [callback]
        self._ok = True
        self.value = value


def _nothing() -> None:
    """The side call of a clock that has none."""
