"""Discovery engines: when does each worker arrive at the board?

``RaceEngine`` (the default) never simulates an idle refresh. A worker's discovery schedule is
state (anchor and interval of a periodic refresh, a memoryless clock, or a pending
notification); when tasks are released the engine computes each eligible worker's next arrival
and keeps them in a heap, and SimPy only sees the arrivals that can claim something. Cost
grows with releases, claims and sessions, not with refreshes.

``PollingEngine`` is the literal oracle: every refresh and every notification is a SimPy
event. Both engines share the platform's ``look``; on small scenarios they must agree
statistically (tests/test_engines.py).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import simpy

from sim.platform import OpenBatch, Platform
from sim.population import MEMORYLESS, NOTIFICATION, PERIODIC
from sim.scenario import Scenario
from sim.streams import Streams

INF = math.inf


class _Engine:
    """What both engines share: the platform, the discovery stream and reaction delays."""

    def __init__(self, env: simpy.Environment, scn: Scenario, platform: Platform, streams: Streams):
        self.env = env
        self.platform = platform
        pop = platform.pop
        self.rng = streams.rng("discovery")
        self.mode = pop.mode
        self.mode_list = pop.mode.tolist()
        self.intervals = pop.interval
        self.interval = pop.interval.tolist()
        self.option = pop.discovery
        self.notified = np.flatnonzero(pop.mode == NOTIFICATION)
        self.reactions = [d.reaction for d in pop.discovery_specs]

    def _refresh_gap(self, w: int) -> float:
        """Time from a refreshing worker's look to its next refresh."""
        if self.mode_list[w] == PERIODIC:
            return self.interval[w]
        return self.rng.exponential(self.interval[w])

    def _reaction_delays(self, workers: np.ndarray) -> np.ndarray:
        """Reaction delay of each notified worker, drawn per discovery option."""
        delays = np.empty(len(workers))
        option = self.option[workers]
        for p in np.unique(option):
            sel = option == p
            delays[sel] = self.reactions[p].sample(self.rng, int(sel.sum()))
        return delays


class RaceEngine(_Engine):
    """Event-driven race: only arrivals that may claim something become SimPy events."""

    def __init__(self, env: simpy.Environment, scn: Scenario, platform: Platform, streams: Streams):
        super().__init__(env, scn, platform, streams)
        n = platform.pop.size
        self.anchor = np.zeros(n)  # time of the worker's last look (refresh phase)
        self.key = [INF] * n  # next arrival while armed; pending notification otherwise
        self.armed = [False] * n
        self.heap: list[tuple[float, float, int]] = []
        self.tiebreak = streams.rng("tiebreak")
        self.target = INF  # arrival time of the scheduled SimPy event
        self.version = 0

    def idle(self, w: int) -> None:
        self.anchor[w] = self.env.now
        self.armed[w] = False
        self.key[w] = INF  # opening the app clears pending notifications

    def gone(self, w: int) -> None:
        self.armed[w] = False

    def released(self, batch: OpenBatch) -> None:
        now = self.env.now
        cand = np.flatnonzero(batch.eligible & self.platform.hungry)
        if len(cand) == 0:
            return
        key = np.empty(len(cand))
        mode = self.mode[cand]
        per = mode == PERIODIC
        if per.any():
            a, t = self.anchor[cand[per]], self.intervals[cand[per]]
            steps = np.maximum(np.ceil((now - a) / t), 1)  # first refresh after the last look
            key[per] = np.maximum(a + steps * t, now)
        mem = mode == MEMORYLESS
        if mem.any():
            key[mem] = now + self.rng.exponential(self.intervals[cand[mem]])
        note = mode == NOTIFICATION
        if note.any():
            key[note] = now + self._reaction_delays(cand[note])
        ties = self.tiebreak.random(len(cand)).tolist()
        armed, keys, heap = self.armed, self.key, self.heap
        for w, k, r, m in zip(cand.tolist(), key.tolist(), ties, mode.tolist(), strict=True):
            if armed[w]:
                if m != NOTIFICATION or k >= keys[w]:
                    continue  # same refresh schedule, or an earlier pending notification
            elif m == NOTIFICATION and now < keys[w] < k:
                k = keys[w]  # a notification received earlier is still pending
            armed[w] = True
            keys[w] = k
            heapq.heappush(heap, (k, r, w))
        self._schedule()

    def _top(self) -> tuple[float, float, int] | None:
        """Drop stale heap entries and workers the board has nothing for; return the top."""
        heap, armed, keys, platform = self.heap, self.armed, self.key, self.platform
        while heap:
            k, _, w = heap[0]
            if not armed[w] or keys[w] != k:
                heapq.heappop(heap)
            elif platform.acceptable(w) is None:
                heapq.heappop(heap)
                armed[w] = False  # parked until a release it may want (schedule kept)
            else:
                return heap[0]
        return None

    def _schedule(self) -> None:
        top = self._top()
        if top is None or top[0] >= self.target:
            return
        self.target = top[0]
        self.version += 1
        ev = self.env.timeout(max(top[0] - self.env.now, 0.0), self.version)
        ev.callbacks.append(self._arrive)

    def _arrive(self, event: simpy.Event) -> None:
        if event.value != self.version:
            return  # superseded by an earlier arrival
        target, self.target = self.target, INF
        top = self._top()
        while top is not None and top[0] <= target:
            heapq.heappop(self.heap)
            w = top[2]
            self.armed[w] = False
            self.platform.look(w)
            top = self._top()
        self._schedule()


class PollingEngine(_Engine):
    """Literal oracle: every refresh and every notification is a SimPy event."""

    def __init__(self, env: simpy.Environment, scn: Scenario, platform: Platform, streams: Streams):
        super().__init__(env, scn, platform, streams)
        n = platform.pop.size
        self.generation = [0] * n
        self.last_open = [-INF] * n
        self.polls = 0

    def idle(self, w: int) -> None:
        self.generation[w] += 1
        self.last_open[w] = self.env.now
        if self.mode_list[w] != NOTIFICATION:
            delay = self._refresh_gap(w)
            ev = self.env.timeout(delay, (w, self.generation[w]))
            ev.callbacks.append(self._poll)

    def gone(self, w: int) -> None:
        self.generation[w] += 1

    def released(self, batch: OpenBatch) -> None:
        cand = self.notified[batch.eligible[self.notified] & self.platform.hungry[self.notified]]
        now = self.env.now
        for w, d in zip(cand.tolist(), self._reaction_delays(cand).tolist(), strict=True):
            ev = self.env.timeout(d, (w, now))
            ev.callbacks.append(self._notification)

    def _poll(self, event: simpy.Event) -> None:
        w, generation = event.value
        if generation == self.generation[w]:
            self.polls += 1
            self.platform.look(w)

    def _notification(self, event: simpy.Event) -> None:
        w, issued = event.value
        if self.platform.hungry[w] and self.last_open[w] < issued:
            self.platform.look(w)


ENGINES = {"race": RaceEngine, "polling": PollingEngine}
