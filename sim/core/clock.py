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
* :class:`Deadlines`: calls at a time of which most have nothing left to do by then (a batch's
  expiry, at full market size nearly always after its last task was claimed). They are
  scheduled as ``call_at`` would, but only the earliest is on the queue.
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


class Deadlines:
    """Calls at a time, each as :meth:`Clock.call_at` would make it, with only the earliest on
    the clock's queue: the others wait in a heap of their own, and those ``live`` says have
    nothing left to do by the time they come first are dropped without being called.

    A batch's expiry is such a call. At full market size nearly every batch is claimed long
    before it expires, and its expiry, on the queue for days, made 80 % of the queue's
    entries (14,000 of 17,000), each adding to the cost of every push and pop of the events
    that do happen. A call here takes its event number when it is set, and is pushed with it
    when it becomes the earliest: the queue pops entries in (time, priority, number) order
    whenever they were pushed, so the calls made happen at the same times and in the same
    order among the other events as with ``call_at``, and the event count is the same.
    """

    def __init__(self, env: Clock, callback: Callable[[Any], None],
                 live: Callable[[Any], bool]) -> None:
        self.env = env
        self.callback = callback
        self.live = live
        self.pending: list[tuple[float, int, Any]] = []  # (time, event number, value)
        self.queued: set[int] = set()  # event numbers of the calls on the clock's queue

    def call_at(self, when: float, value: Any) -> None:
        """Call the callback with ``value`` at ``when`` (not before now), unless ``live(value)``
        is false by the time it is the earliest call left."""
        eid = next(self.env._eid)
        heappush(self.pending, (when, eid, value))
        if self.pending[0][1] == eid:
            self._queue_first()

    def _queue_first(self) -> None:
        """Put the earliest pending call on the clock's queue, if it is not there yet."""
        when, eid, _ = self.pending[0]
        if eid not in self.queued:
            self.queued.add(eid)
            heappush(self.env._queue, (when, NORMAL, eid, self._due, eid))

    def _due(self, eid: int) -> None:
        # The call due now is the earliest pending: any earlier one would be on the queue
        # before it (the earliest pending always is) and have been called already.
        self.queued.discard(eid)
        pending = self.pending
        self.callback(heappop(pending)[2])
        # the calls left that have nothing to do go without a call (one on the queue stays:
        # it is called, and then it finds nothing to do)
        while pending and pending[0][1] not in self.queued and not self.live(pending[0][2]):
            heappop(pending)
        if pending:
            self._queue_first()


def _nothing() -> None:
    """The side call of a clock that has none."""
