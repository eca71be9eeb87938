"""The platform: open-task board, claims, work, approval, expiry and the ledger.

The platform owns the state both engines share. How workers *arrive* at the board (the
race between them) is delegated to a discovery engine (``sim.core.discovery``); everything that
happens once a worker looks at the board happens here, once, for both engines.
"""

from __future__ import annotations

from array import array
from collections import deque
from itertools import accumulate
from typing import Protocol

import numpy as np
import simpy

from sim.core.clock import Clock, delay_until
from sim.core.demand import Demand
from sim.core.population import Population
from sim.core.rules import AllocationRule
from sim.core.status import ABANDONED, APPROVED, CLAIMED, EXPIRED, OPEN, REJECTED
from sim.foundation.units import HOUR, MONTH
from sim.scenario.schema import Scenario

NO_CAP = 1 << 62
COMPACT_SLACK = 1024  # closed batches the board may hold beyond its open ones


class Discovery(Protocol):
    """What the platform tells a discovery engine (see ``sim.core.discovery``)."""

    def released(self, batch: OpenBatch) -> None:
        """A batch of tasks has just been put on the board."""

    def idle(self, worker: int) -> None:
        """The worker has just looked, found nothing it can take, and can still claim."""

    def gone(self, worker: int) -> None:
        """The worker cannot claim for now (offline, capped, or holding its maximum)."""


class OpenBatch:
    """A batch on the board: its unclaimed tasks in order and who may take them.

    A batch's tasks are numbered contiguously, so its unclaimed tasks are the range
    ``next..end-1``: no per-task object on the board.
    """

    __slots__ = ("batch", "end", "entered", "entrants", "expected", "kind", "next", "open",
                 "rate", "region")

    def __init__(self, batch: int, first: int, end: int, kind: int, region: int,
                 expected: float, rate: float):
        self.batch = batch
        self.next = first  # the next task to be claimed
        self.end = end  # one past the batch's last task
        self.kind = kind  # task type index
        self.region = region  # -1 when the tasks can be done from anywhere
        self.expected = expected  # seconds of work (incl. mean travel) for a typical worker
        self.rate = rate  # reward per hour of expected work, compared with reservation pay
        self.entrants: list[int] | None = None  # arrival order while a window round is open
        self.entered: set[int] = set()
        self.open = True  # False once its last task is claimed or it expired

    @property
    def left(self) -> int:
        """Number of tasks not claimed yet."""
        return self.end - self.next


_DTYPES = {"d": np.float64, "q": np.int64, "b": np.int8}


def _column(typecode: str, values: np.ndarray) -> array:
    """A typed array (``typecode`` of :mod:`array`) holding ``values``; ``np.asarray`` reads
    it back without a copy."""
    out = array(typecode)
    out.frombytes(np.ascontiguousarray(values, dtype=_DTYPES[typecode]).tobytes())
    return out


class PeriodTotals:
    """Per-worker running totals that restart at each multiple of ``period`` seconds."""

    def __init__(self, n: int, period: float) -> None:
        self.period = period
        self.total = [0.0] * n
        self.index = [0] * n

    def add(self, w: int, now: float, amount: float) -> None:
        """Add ``amount`` to worker ``w``'s total of the current period."""
        k = int(now // self.period)
        if k != self.index[w]:
            self.index[w], self.total[w] = k, 0.0
        self.total[w] += amount

    def get(self, w: int, now: float) -> float:
        """Worker ``w``'s total in the current period."""
        return self.total[w] if self.index[w] == int(now // self.period) else 0.0


class Platform:
    """Board, worker state and ledger of one run. Mutated only from SimPy event callbacks."""

    def __init__(
        self,
        env: Clock,
        scn: Scenario,
        pop: Population,
        demand: Demand,
        rule: AllocationRule,
        rule_rng: np.random.Generator,
    ):
        self.env = env
        self.rule = rule
        self.window = rule.window
        self.rule_rng = rule_rng
        # earnings per period, kept only when a rule or the monthly cap needs them
        period = rule.earnings_period
        self.rule_earnings = PeriodTotals(pop.size, period) if period < np.inf else None
        self.monthly_cap = scn.platform.monthly_cap or np.inf
        self.month_earnings = (PeriodTotals(pop.size, MONTH)
                               if self.monthly_cap < np.inf else None)
        self.period_totals = [p for p in (self.rule_earnings, self.month_earnings) if p]
        self.scn = scn
        self.pop = pop
        self.demand = demand
        self.discovery: Discovery | None = None
        n, m = pop.size, demand.n_tasks
        self.max_claimed = scn.platform.max_claimed
        self.daily_cap = scn.platform.daily_cap or NO_CAP
        self.commission = scn.platform.commission
        # the board: the open batches (and those closed since the last compaction) in release
        # order, and per online worker the index before which nothing is acceptable to it for
        # the rest of its session (what it rejects for type, region, pay or length stays
        # rejected; closed batches stay closed)
        self.batches: list[OpenBatch] = []
        self.first_open = 0
        # skip[i] of a closed batch: an index after it such that every batch between is closed
        # too (found and shortened as workers step over them: at full market size thousands
        # of idle workers would otherwise each step over every batch claimed meanwhile)
        self.skip: list[int] = []
        self.cursor = [0] * n
        self.online_ids: set[int] = set()  # whose cursors a compaction must move
        self.compact_at = COMPACT_SLACK
        self.hungry = np.zeros(n, dtype=bool)
        # worker state (python lists: fast scalar access in the hot path)
        self.speed = pop.speed.tolist()
        self.rejection = pop.rejection_probability.tolist()
        self.online = [False] * n
        self.session_end = [0.0] * n
        self.held = [0] * n
        self.claims_today = [0] * n
        self.current = [-1] * n
        self.queue: dict[int, deque[int]] = {}  # claimed tasks waiting behind ``current``
        self.earnings = [0.0] * n
        self.work_time = [0.0] * n
        self.unpaid_work = [0.0] * n
        self.capped: set[int] = set()
        # what allocation rules may look at
        self.last_claim = [-np.inf] * n
        self.approved = [0] * n
        self.rejected = [0] * n
        # task records (columnar, filled during the run) and the tasks' own numbers: typed
        # arrays (8 bytes a task, no float object per entry: a full-size market has millions
        # of tasks) with fast scalar access from Python
        self.claimed_at = _column("d", np.full(m, np.nan))
        self.started_at = _column("d", np.full(m, np.nan))
        self.completed_at = _column("d", np.full(m, np.nan))
        self.worker = _column("q", np.full(m, -1, dtype=np.int64))
        self.status = _column("b", np.full(m, OPEN, dtype=np.int8))
        task_batch = np.repeat(np.arange(len(demand.batch_size)), demand.batch_size)
        self.task_reward = _column("d", demand.batch_reward[task_batch])
        self.task_work = _column("d", demand.batch_effort[task_batch] * demand.task_spread)
        self.task_travel = _column("d", demand.task_travel)
        self.task_draw = _column("d", demand.task_approval_draw)
        # static eligibility: accepted task types per profile, region, reservation pay
        self.accepts = np.array(
            [[p.task_types is None or t in p.task_types for t in demand.type_names]
             for p in scn.profiles.values()]
        )
        self.accepts_list = self.accepts.tolist()
        self.profile = pop.profile.tolist()
        self.region = pop.region.tolist()
        self.reservation = pop.reservation_pay.tolist()

    # -- requesters ---------------------------------------------------------------------
    def release(self, b: int) -> None:
        """Put batch ``b`` on the board and tell the discovery engine."""
        d = self.demand
        tt = self.scn.task_types[d.type_names[d.batch_type[b]]]
        expected = float(d.batch_effort[b]) + (tt.travel.mean() if tt.travel is not None else 0)
        rate = float(d.batch_reward[b]) * HOUR / expected if expected > 0 else np.inf
        first = int(d.batch_first_task[b])
        ob = OpenBatch(b, first, first + int(d.batch_size[b]), int(d.batch_type[b]),
                       int(d.batch_region[b]), expected, rate)
        if len(self.batches) >= self.compact_at:
            self._compact()
        self.batches.append(ob)
        self.skip.append(len(self.batches))
        if self.window > 0:
            self._open_round(ob)
        if np.isfinite(d.batch_expires[b]):
            ev = self.env.timeout(delay_until(self.env, d.batch_expires[b]), ob)
            ev.callbacks.append(self._expire)
        self.discovery.released(ob)

    def _compact(self) -> None:
        """Drop closed batches from the board and move the online workers' cursors.

        A closed batch never reopens, so no worker would take it again; without compaction a
        session starting at full market size would step over days of closed batches.
        """
        new_index = list(accumulate((ob.open for ob in self.batches), initial=0))
        for w in self.online_ids:
            self.cursor[w] = new_index[self.cursor[w]]
        self.first_open = new_index[self.first_open]
        self.batches = [ob for ob in self.batches if ob.open]
        self.skip = list(range(1, len(self.batches) + 1))
        self.compact_at = 2 * len(self.batches) + COMPACT_SLACK

    def _expire(self, event: simpy.Event) -> None:
        ob = event.value
        if ob.open:
            ob.open = False
            for t in range(ob.next, ob.end):
                self.status[t] = EXPIRED

    # -- workers looking at the board ---------------------------------------------------
    def eligible(self, w: int, ob: OpenBatch) -> bool:
        """Worker ``w``'s profile takes this task type, in its region, at this pay (the test
        :meth:`acceptable` makes inline, with the worker's attributes read once)."""
        return (
            self.accepts_list[self.profile[w]][ob.kind]
            and (ob.region < 0 or self.region[w] == ob.region)
            and self.reservation[w] <= ob.rate
        )

    def eligible_among(self, ob: OpenBatch, workers: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`eligible` over an array of worker ids."""
        pop = self.pop
        ok = self.accepts[pop.profile[workers], ob.kind] & (pop.reservation_pay[workers] <= ob.rate)
        return ok & (pop.region[workers] == ob.region) if ob.region >= 0 else ok

    def can_claim(self, w: int) -> bool:
        """Online, below the claimed-task maximum, the daily cap and the monthly earnings cap."""
        return (
            self.online[w]
            and self.held[w] < self.max_claimed
            and self.claims_today[w] < self.daily_cap
            and (self.month_earnings is None
                 or self.month_earnings.get(w, self.env.now) < self.monthly_cap)
        )

    def acceptable(self, w: int) -> OpenBatch | None:
        """The oldest batch on the board that worker ``w`` would take (or enter) now, if any."""
        remaining = (self.session_end[w] - self.env.now) / self.speed[w]
        batches, skip, i, n = self.batches, self.skip, self.cursor[w], len(self.batches)
        # what eligible() reads of the worker, read once
        accepts, region, reservation = (self.accepts_list[self.profile[w]], self.region[w],
                                        self.reservation[w])
        advancing = True
        while i < n:
            ob = batches[i]
            if not ob.open:  # jump the run of closed batches, and remember its end
                path = []
                while i < n and not batches[i].open:
                    path.append(i)
                    i = skip[i]
                for k in path:
                    skip[k] = i
                if advancing:
                    self.cursor[w] = i
                continue
            i += 1
            if (ob.expected <= remaining and accepts[ob.kind]
                    and (ob.region < 0 or region == ob.region) and reservation <= ob.rate):
                if w not in ob.entered:
                    return ob
                advancing = False  # entered a round: acceptable again once it closes
            elif advancing:
                self.cursor[w] = i
        return None

    def _fits(self, w: int, ob: OpenBatch) -> bool:
        remaining = (self.session_end[w] - self.env.now) / self.speed[w]
        return ob.expected <= remaining and self.eligible(w, ob)

    def look(self, w: int) -> int:
        """Worker ``w`` looks at the board and claims what it can; returns the number claimed.

        A batch whose window round is still open (window rules) is entered instead of claimed:
        the rule picks the winners when the round closes.
        """
        claimed = 0
        while self.can_claim(w) and (ob := self.acceptable(w)) is not None:
            if ob.entrants is not None:
                ob.entrants.append(w)
                ob.entered.add(w)
                continue
            t = ob.next
            ob.next = t + 1
            ob.open = t + 1 < ob.end
            self._claim(w, t)
            claimed += 1
        self._update(w)
        return claimed

    # -- window rules: a round of candidates after each release --------------------------
    def _open_round(self, ob: OpenBatch) -> None:
        ob.entrants = []
        expires = delay_until(self.env, self.demand.batch_expires[ob.batch])
        ev = self.env.timeout(min(self.window, expires), ob)  # a round never outlives the task
        ev.callbacks.append(self._close_round)

    def _close_round(self, event: simpy.Event) -> None:
        ob = event.value
        if not ob.open:
            return  # expired meanwhile
        candidates = np.array([w for w in ob.entrants if self.can_claim(w) and self._fits(w, ob)],
                              dtype=np.int64)
        ob.entrants, ob.entered = None, set()
        if len(candidates):
            winners = self.rule.choose(candidates, ob.left, self, self.rule_rng)
            for w in winners.tolist():
                ob.next += 1
                self._claim(w, ob.next - 1)
                self._update(w)
        ob.open = ob.left > 0
        if ob.open:
            self.discovery.released(ob)  # tasks left: first come, first served from now on

    def _update(self, w: int) -> None:
        hungry = self.can_claim(w)
        self.hungry[w] = hungry
        if hungry:
            self.discovery.idle(w)
        else:
            self.discovery.gone(w)
            if self.online[w] and self.claims_today[w] >= self.daily_cap:
                self.capped.add(w)

    def _claim(self, w: int, t: int) -> None:
        now = self.env.now
        self.claimed_at[t] = now
        self.worker[t] = w
        self.status[t] = CLAIMED
        self.held[w] += 1
        self.claims_today[w] += 1
        self.last_claim[w] = now
        if self.current[w] < 0:
            self._start(w, t)
        elif w in self.queue:
            self.queue[w].append(t)
        else:
            self.queue[w] = deque((t,))

    # -- work ---------------------------------------------------------------------------
    def _start(self, w: int, t: int) -> None:
        """Worker ``w`` starts task ``t`` (it was not working)."""
        now = self.env.now
        self.current[w] = t
        self.started_at[t] = now
        duration = self.task_work[t] * self.speed[w] + self.task_travel[t]
        if now + duration < self.session_end[w]:  # at the very end, the session ends first
            self.env.call_later(duration, self._complete, (w, t))
        # otherwise the session ends first and the task is abandoned then

    def _complete(self, event: simpy.Event) -> None:
        w, t = event.value
        now = self.env.now
        self.completed_at[t] = now
        spent = now - self.started_at[t]
        if self.task_draw[t] >= self.rejection[w]:
            self.status[t] = APPROVED
            self.earnings[w] += self.task_reward[t]
            self.work_time[w] += spent
            self.approved[w] += 1
            for totals in self.period_totals:
                totals.add(w, now, self.task_reward[t])
        else:
            self.status[t] = REJECTED
            self.unpaid_work[w] += spent
            self.rejected[w] += 1
        self.held[w] -= 1
        self.current[w] = -1
        queue = self.queue.get(w)
        if queue:
            self._start(w, queue.popleft())
        if self.can_claim(w):
            self.look(w)  # a worker who just finished a task looks at the board at once

    # -- what rules see -----------------------------------------------------------------
    def earned_this_period(self, workers: np.ndarray) -> np.ndarray:
        """Earnings of ``workers`` in the current earnings period of the rule (day, week, run)."""
        now = self.env.now
        if self.rule_earnings is None:  # the whole run
            return np.array([self.earnings[w] for w in workers.tolist()])
        return np.array([self.rule_earnings.get(w, now) for w in workers.tolist()])

    def approval_rate(self, workers: np.ndarray) -> np.ndarray:
        """Smoothed approval rate (approved + 1) / (decided + 2): new workers start at 1/2."""
        ws = workers.tolist()
        ok = np.array([self.approved[w] for w in ws], dtype=float)
        bad = np.array([self.rejected[w] for w in ws], dtype=float)
        return (ok + 1) / (ok + bad + 2)

    def last_claims(self, workers: np.ndarray) -> np.ndarray:
        """Time of each worker's last claim (-inf if it never claimed)."""
        return np.array([self.last_claim[w] for w in workers.tolist()])

    # -- sessions and days --------------------------------------------------------------
    def go_online(self, w: int, end: float) -> None:
        """Worker ``w`` comes online until ``end`` and looks at the board."""
        self.online[w] = True
        self.online_ids.add(w)
        self.session_end[w] = end
        batches = self.batches
        while self.first_open < len(batches) and not batches[self.first_open].open:
            self.first_open += 1
        self.cursor[w] = self.first_open
        self.look(w)

    def go_offline(self, w: int) -> None:
        """Worker ``w`` goes offline: unfinished work is abandoned, unpaid."""
        now = self.env.now
        self.online[w] = False
        self.online_ids.discard(w)
        self.hungry[w] = False
        self.capped.discard(w)
        self.discovery.gone(w)
        t = self.current[w]
        if t >= 0:
            self.unpaid_work[w] += now - self.started_at[t]
            self.status[t] = ABANDONED
            self.current[w] = -1
        for t in self.queue.pop(w, ()):
            self.status[t] = ABANDONED
        self.held[w] = 0

    def new_day(self) -> None:
        """Reset daily caps; workers who were capped look at the board again."""
        self.claims_today = [0] * len(self.claims_today)
        capped, self.capped = self.capped, set()
        for w in sorted(capped):
            if self.can_claim(w):
                self.look(w)

    def finish(self) -> None:
        """Close the run at the horizon: everyone still online goes offline."""
        for w in np.flatnonzero(np.asarray(self.online)):
            self.go_offline(int(w))
