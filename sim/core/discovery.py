"""Discovery engines: when does each worker arrive at the board?

``RaceEngine`` (the default) never simulates an idle refresh. A worker's discovery schedule is
state (anchor and interval of a periodic refresh, a memoryless clock, or a pending
notification); when tasks are released the engine computes each eligible worker's next arrival
and keeps them in a heap, and only the arrivals that can claim something are simulated (as
calls from the clock, not SimPy events). Cost grows with releases, claims and sessions, not
with refreshes.

``PollingEngine`` is the literal oracle: every refresh and every notification is a SimPy
event. Both engines share the platform's ``look``; on small and large populations they must
agree statistically (tests/test_engines.py).
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush, heapreplace

import numpy as np
import simpy

from sim.core.board import Board, OpenBatch
from sim.core.clock import Clock
from sim.core.population import MEMORYLESS, NOTIFICATION, PERIODIC
from sim.foundation.streams import Streams
from sim.scenario.schema import Scenario

INF = math.inf
NONE_LEFT = np.empty(0, dtype=np.int64)  # a wave's positions left to sort, when none are
FRONT = 64  # fewest arrivals of a wave sorted at once (more for a large batch)


class _Engine:
    """What both engines share: the platform, the discovery stream and reaction delays."""

    def __init__(self, env: simpy.Environment, scn: Scenario, platform: Board, streams: Streams,
                 arrivals: Arrivals | None = None):
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
        self.note_options = np.unique(pop.discovery[self.notified]).tolist()
        self.reactions = [d.reaction for d in pop.discovery_specs]

    def _refresh_gap(self, w: int) -> float:
        """Time from a refreshing worker's look to its next refresh."""
        if self.mode_list[w] == PERIODIC:
            return self.interval[w]
        return self.rng.exponential(self.interval[w])

    def _reaction_delays(self, workers: np.ndarray) -> np.ndarray:
        """Reaction delay of each notified worker, drawn per discovery option."""
        if len(self.note_options) == 1 and len(workers):  # one option: no grouping needed
            return self.reactions[self.note_options[0]].sample(self.rng, len(workers))
        delays = np.empty(len(workers))
        option = self.option[workers]
        for p in np.unique(option):
            sel = option == p
            delays[sel] = self.reactions[p].sample(self.rng, int(sel.sum()))
        return delays


class _Wave:
    """The workers armed by one release, in arrival order, consumed from the front.

    Only the front of the order is sorted (``keys``, ``workers``, ``versions``: python lists,
    fast to walk); the later arrivals wait unsorted (``rest``: positions in the release's
    arrays of keys, tiebreak draws, workers and versions) until the front runs out while the
    batch is still open. Most batches are claimed by their first few arrivals, so a release
    at full market size no longer sorts thousands of idle workers whose arrival never matters.
    """

    __slots__ = ("arrays", "batch", "chunk", "engine", "keys", "next", "rest", "versions",
                 "workers")

    def __init__(self, engine: RaceEngine, batch: OpenBatch | _Anything,
                 arrays: tuple[np.ndarray, ...] | None, chunk: int) -> None:
        self.engine = engine
        self.batch = batch
        self.arrays = arrays  # (keys, tiebreaks, workers, versions) of the release
        self.rest: np.ndarray | None = None  # positions not sorted yet (None: all of them)
        self.chunk = chunk  # how many arrivals the next refill sorts (doubles each time)
        self.keys: list[float] = []
        self.workers: list[int] = []
        self.versions: list[int] = []  # each worker's state version when armed
        self.next = 0
        if arrays is not None:
            self.refill()

    @classmethod
    def of_one(cls, engine: RaceEngine, worker: int, key: float, version: int) -> _Wave:
        """A wave of one arrival, already in order (a resumed worker's): no arrays to sort."""
        wave = cls(engine, ANYTHING, None, 1)
        wave.keys, wave.workers, wave.versions = [key], [worker], [version]
        return wave

    def refill(self) -> bool:
        """Sort the next arrivals into the front; False when none are left.

        Exactly the order of one full sort by (key, tiebreak): every arrival with a key up to
        the chunk's largest key is taken (ties included), so nothing later can precede them.
        """
        if self.arrays is None:  # a wave of one: nothing more to sort
            return False
        keys, ties, workers, versions = self.arrays
        rest = self.rest
        left = len(keys) if rest is None else len(rest)
        if left == 0:
            return False
        if left > self.chunk:
            pending = keys if rest is None else keys[rest]
            bound = np.partition(pending, self.chunk - 1)[self.chunk - 1]
            front = pending <= bound
            if rest is None:
                take, self.rest = np.flatnonzero(front), np.flatnonzero(~front)
            else:
                take, self.rest = rest[front], rest[~front]
            self.chunk *= 2  # geometric: a wave consumed to its end costs O(n log n) at most
        else:  # all that are left (None: the whole wave, at once, the common case)
            take, self.rest = rest, NONE_LEFT
        order = np.lexsort((ties, keys)) if take is None else \
            take[np.lexsort((ties[take], keys[take]))]
        self.keys = keys[order].tolist()
        self.workers = workers[order].tolist()
        self.versions = versions[order].tolist()
        self.next = 0
        return True


class Arrivals:
    """The pending arrivals of every race engine of a run (one per platform's board): one heap
    of waves keyed by their earliest pending arrival, and the clock's one side call at the
    earliest of all."""

    def __init__(self, env: Clock) -> None:
        self.env = env
        self.heap: list[tuple[float, int, _Wave]] = []
        self.target = INF  # the earliest pending arrival, when the clock calls back
        self.count = 0
        env.side_call = self._arrive

    def push(self, key: float, wave: _Wave) -> None:
        """A wave waits for its next arrival, at ``key``."""
        self.count += 1
        heappush(self.heap, (key, self.count, wave))

    def schedule(self) -> None:
        """Ask the clock to call :meth:`_arrive` at the earliest pending arrival.

        The time is reached as SimPy reaches a timeout's (now plus the delay), so an arrival
        happens at the very float time it would as an event.
        """
        env = self.env
        if self.heap:
            self.target = target = self.heap[0][0]
            now = env.now  # delay_until, inline (once an arrival, on the hot path), and
            delay = target - now  # its max() as a comparison (the same float: a call saved)
            env.side_time = now + (delay if delay > 0.0 else 0.0)
        else:
            self.target = env.side_time = INF

    def _arrive(self) -> None:
        target, heap = self.target, self.heap
        while heap and heap[0][0] <= target:
            # the wave stays on the heap during the look, and is then replaced by its next
            # entry (one sift instead of a pop and a push)
            entry = heap[0]
            wave = entry[2]
            engine = wave.engine
            w, armed = wave.workers[wave.next], wave.versions[wave.next]
            wave.next += 1
            if armed == engine.version[w] + engine.epoch[engine.members[w]]:
                engine.platform.look(w)
            if heap[0] is not entry:  # the look armed an arrival due before this one's key
                heap.remove(entry)  # (possible only within a rounding error of now)
                heapify(heap)
                entry = None
            key = engine.next_key(wave)
            if key is None:
                if entry is not None:
                    heappop(heap)
            else:
                self.count += 1
                if entry is None:
                    heappush(heap, (key, self.count, wave))
                else:
                    heapreplace(heap, (key, self.count, wave))
        self.schedule()


class _Anything:
    """The batch of a worker's resumed arrival: not one batch but whatever is acceptable on
    the board when it arrives (always open; the arrival is dropped when nothing is)."""

    open = True


ANYTHING = _Anything()


class RaceEngine(_Engine):
    """Event-driven race: only arrivals that may claim something are simulated.

    Each release arms the idle eligible workers in a *wave*: their next arrival times,
    computed at once with numpy, of which only the earliest are sorted (a partial selection;
    later ones only if the batch is still open when those run out). A heap holds one entry per
    wave, keyed by its earliest pending arrival, so a release costs a few vectorised passes
    over its candidates, not one heap operation per idle worker. An entry is stale when the
    worker has looked (or gone, or become busy on any board of a lazy market) since it was
    armed: its :meth:`stamp` (``version`` here plus the market's busy epoch) moved on. A wave is
    dropped as soon as its batch is closed. Arrivals are not SimPy events: the clock calls the
    engine back at the earliest one (:class:`~sim.core.clock.Clock`).
    """

    def __init__(self, env: Clock, scn: Scenario, platform: Board, streams: Streams,
                 arrivals: Arrivals | None = None):
        super().__init__(env, scn, platform, streams)
        n = platform.pop.size
        # per worker: time of its last look (refresh phase), and a version bumped whenever it
        # looks or goes; numpy arrays for a release's vector operations, read and written one
        # worker at a time through memoryviews of them (3x faster than a numpy scalar access)
        self.anchor_array = np.zeros(n)
        self.version_array = np.zeros(n, dtype=np.int64)
        self.anchor, self.version = memoryview(self.anchor_array), memoryview(self.version_array)
        # what is armed for a worker is stamped with its version here plus its market-wide
        # busy epoch (Platform.epoch, bumped when a claim makes it busy in a market that keeps
        # availability lazily, 0 otherwise): either bump kills it
        market = platform.market
        self.members = platform.members
        self.members_array = platform.members_array
        self.epoch, self.epoch_array = market.epoch, market.epoch_array
        self.last_look = self.anchor  # the board writes the phase of a look that claimed
        self.key = np.full(n, INF)  # next arrival drawn for the worker at ``key_version``
        self.key_version = np.full(n, -1, dtype=np.int64)
        self.tiebreak = streams.rng("tiebreak")
        self.arrivals = arrivals or Arrivals(env)
        self.memoryless = bool((self.mode == MEMORYLESS).any())  # any member's clock memoryless
        self.periodic = self.mode == PERIODIC

    masks_busy = True  # releases read Board.idle_members; an epoch bump kills what is armed

    def idle(self, w: int) -> None:
        self.anchor[w] = self.env.now
        self.version[w] += 1  # opening the app clears pending notifications too

    def gone(self, w: int) -> None:
        self.version[w] += 1

    def released(self, batch: OpenBatch) -> None:
        now = self.env.now
        hungry = self.platform.idle_members()
        cand = hungry[self.platform.eligible_among(batch, hungry)]
        if len(cand) == 0:
            return
        version = self.version_array[cand] + self.epoch_array[self.members_array[cand]]
        per = self.periodic[cand]
        n_per = np.count_nonzero(per)  # (cheaper than per.all() and per.any())
        if n_per == len(cand):  # the common case: no masks needed
            key = self._periodic_keys(cand, now)
        else:
            # from what was drawn for each candidate and is still valid (a memoryless clock
            # or a pending notification, drawn since it last looked and not yet reached)
            held = self.key[cand]
            live = (self.key_version[cand] == version) & (held > now)
            key = np.where(live, held, INF)
            if n_per:
                key[per] = self._periodic_keys(cand[per], now)
            if self.memoryless:
                mode = self.mode[cand]
                mem = (mode == MEMORYLESS) & ~live  # a clock already drawn is kept
                if mem.any():
                    key[mem] = now + self.rng.exponential(self.intervals[cand[mem]])
                note = mode == NOTIFICATION
            else:  # every member not periodic is notified
                note = ~per
            notified = cand[note]
            if len(notified):  # an earlier notification still pending wins
                key[note] = np.minimum(now + self._reaction_delays(notified), key[note])
        self.key[cand] = key
        self.key_version[cand] = version
        ties = self.tiebreak.random(len(cand))
        self.push(_Wave(self, batch, (key, ties, cand, version), max(FRONT, 2 * batch.left)))
        self.arrivals.schedule()

    def resumed(self, w: int) -> None:
        """The worker can claim here again without having looked (it finished a task of
        another platform): it arrives at its next refresh (periodic: on its phase; memoryless:
        a fresh clock) if the board then has something for it; a notified worker waits for the
        next notification, as one that was busy when a batch was released."""
        mode = self.mode_list[w]
        if mode == PERIODIC:
            if self.platform.acceptable(w) is None:
                return  # nothing here for it (most resumptions at full size): nothing to arm
            # _periodic_keys of one worker, in scalars (the same floats)
            now, interval, anchor = self.env.now, self.interval[w], self.anchor[w]
            key = max(anchor + max(math.ceil((now - anchor) / interval), 1) * interval, now)
        elif mode == MEMORYLESS:  # a fresh clock, drawn whatever the board holds (its stream),
            key = self.env.now + self.rng.exponential(self.interval[w])  # and kept for the
            self.key[w], self.key_version[w] = key, self.stamp(w)  # releases to come
            if self.platform.acceptable(w) is None:
                return
        else:
            return
        self.arrivals.push(key, _Wave.of_one(self, w, key, self.stamp(w)))  # live: checked now
        self.arrivals.schedule()

    def stamp(self, w: int) -> int:
        """Worker ``w``'s state now, what an arrival armed for it is stamped with: its version
        here plus its busy epoch in the market."""
        return self.version[w] + self.epoch[self.members[w]]

    def _periodic_keys(self, workers: np.ndarray, now: float) -> np.ndarray:
        """Each periodic worker's first refresh after its last look, and not before now."""
        a, t = self.anchor_array[workers], self.intervals[workers]
        steps = np.maximum(np.ceil((now - a) / t), 1)
        return np.maximum(a + steps * t, now)

    def push(self, wave: _Wave) -> None:
        """Put the wave on the heap under its first live entry, or drop it."""
        key = self.next_key(wave)
        if key is not None:
            self.arrivals.push(key, wave)

    def next_key(self, wave: _Wave) -> float | None:
        """Move the wave to its first live entry and return that entry's arrival time (None:
        no live entry left, the wave is done)."""
        platform, version, epoch, members = self.platform, self.version, self.epoch, self.members
        now, session_end, speed = self.env.now, platform.session_end, platform.speed
        keys, workers, versions, i = wave.keys, wave.workers, wave.versions, wave.next
        while wave.batch.open:
            if i == len(keys):
                if not wave.refill():
                    return None
                keys, workers, versions, i = wave.keys, wave.workers, wave.versions, 0
            w = workers[i]
            g = members[w]
            # an entry is live while the worker has not looked since, and the board still has
            # something for it (the board only gains tasks through a release, which arms anew;
            # the worker's refresh phase, memoryless clock or pending notification is kept):
            # the wave's own batch, if it still fits the worker's session (it was eligible when
            # armed: Board.has_time, inline), else any other (a resumed worker's wave of one is
            # checked when armed)
            if versions[i] == version[w] + epoch[g] and (
                    wave.batch.expected <= (session_end[g] - now) / speed[g]
                    or platform.acceptable(w) is not None):
                wave.next = i
                return keys[i]
            i += 1
        return None


class PollingEngine(_Engine):
    """Literal oracle: every refresh and every notification is a SimPy event."""

    def __init__(self, env: simpy.Environment, scn: Scenario, platform: Board, streams: Streams,
                 arrivals: Arrivals | None = None):
        super().__init__(env, scn, platform, streams)
        n = platform.pop.size
        self.generation = [0] * n
        self.last_open = [-INF] * n
        self.last_look = self.last_open  # the board writes the phase of a look that claimed
        self.polls = 0

    masks_busy = False  # a busy worker's polls must stop: the board tells it eagerly

    def idle(self, w: int) -> None:
        self.generation[w] += 1
        self.last_open[w] = self.env.now
        if self.mode_list[w] != NOTIFICATION:
            delay = self._refresh_gap(w)
            ev = self.env.timeout(delay, (w, self.generation[w]))
            ev.callbacks.append(self._poll)

    def gone(self, w: int) -> None:
        self.generation[w] += 1

    def resumed(self, w: int) -> None:
        """Free again after a task elsewhere: refreshes resume on the worker's phase
        (periodic) or from a fresh clock (memoryless); no look now."""
        self.generation[w] += 1
        mode = self.mode_list[w]
        if mode == NOTIFICATION:
            return
        now = self.env.now
        if mode == PERIODIC:
            step = self.interval[w]
            delay = self.last_open[w] + max(math.ceil((now - self.last_open[w]) / step), 1) \
                * step - now
        else:
            delay = self.rng.exponential(self.interval[w])
        ev = self.env.timeout(max(delay, 0.0), (w, self.generation[w]))
        ev.callbacks.append(self._poll)

    def released(self, batch: OpenBatch) -> None:
        waiting = self.notified[self.platform.hungry[self.notified]]
        cand = waiting[self.platform.eligible_among(batch, waiting)]
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
        if self.platform.free[w] and self.last_open[w] < issued:
            self.platform.look(w)


ENGINES = {"race": RaceEngine, "polling": PollingEngine}
