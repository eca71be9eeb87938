"""One platform's board: open batches, its rule and levers, and what it knows of its members.

A market has one board per platform (one for a scenario without ``platforms``). The board
owns what a platform decides and records: the open-task board, the allocation rule and its
rounds, the caps, and per member its claims today, earnings on this platform, and (when its
rule reads them) approvals and last claim. Workers are numbered locally (``0..members-1``;
``members[w]`` is the worker's id in the market). What belongs to the worker whatever the
platform (online, session end, speed, the task in hand and the claimed ones waiting) is the
market's (:class:`~sim.core.platform.Platform`), so a worker works on one task at a time
across all of its platforms.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from itertools import accumulate
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sim.core.clock import Deadlines, delay_until
from sim.core.rules import AllocationRule
from sim.core.status import EXPIRED
from sim.foundation.units import MONTH
from sim.scenario.schema import MarketPlatform

if TYPE_CHECKING:
    from sim.core.platform import Platform

NO_CAP = 1 << 62
COMPACT_SLACK = 1024  # closed batches the board may hold beyond its open ones


class Discovery(Protocol):
    """What a board tells its discovery engine (see ``sim.core.discovery``)."""

    def released(self, batch: OpenBatch) -> None:
        """A batch of tasks has just been put on the board."""

    def idle(self, worker: int) -> None:
        """The worker has just looked, found nothing it can take, and can still claim."""

    def gone(self, worker: int) -> None:
        """The worker cannot claim for now (offline, capped, or holding its maximum)."""

    def resumed(self, worker: int) -> None:
        """The worker can claim again without having looked at this board (it finished a
        task of another platform)."""

    last_look: MutableSequence[float]
    """Per worker, the time of its last look (its refresh phase): the board writes it itself
    when a look leaves the worker unable to claim (a method call a look, saved)."""

    masks_busy: bool
    """Whether the engine can be told of a worker's tasks elsewhere lazily: its releases take
    their candidates from :meth:`Board.idle_members`, and a bump of the market's busy epoch of
    the worker (``Platform.epoch``) kills whatever it armed for the worker (the market's lazy
    availability needs it)."""


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


class Members:
    """What a board and its discovery engine read of its members (local order): their
    attributes, and refresh intervals spread over their platforms (a worker on k platforms
    looks at each k times less often: its looks per hour online are conserved)."""

    def __init__(self, pop: object, ids: np.ndarray, apps: np.ndarray) -> None:
        self.size = len(ids)
        for name in ("profile", "region", "reservation_pay", "mode", "discovery"):
            setattr(self, name, getattr(pop, name)[ids])
        self.interval = pop.interval[ids] * apps
        self.discovery_specs = pop.discovery_specs


class Board:
    """One platform: board, rule, levers and per-member records. Mutated only from SimPy event
    callbacks, through the market."""

    def __init__(self, market: Platform, index: int, spec: MarketPlatform, members: np.ndarray,
                 view: object, rule: AllocationRule, rule_rng: np.random.Generator) -> None:
        self.market = market
        self.env = market.env
        self.index = index
        self.name = spec.name
        scn = market.scn
        self.rule = rule
        self.window = rule.window
        self.rule_rng = rule_rng
        # market id of each local worker: the array for a release's gathers, a flat buffer of
        # it for scalar reads (one cache line a read; a list would hold an int object each)
        self.members_array = members = np.ascontiguousarray(members, dtype=np.int64)
        self.members = column(np.int64, members)
        # the market's per-worker lists (shared, mutated in place), read in the hot path
        self.online, self.held = market.online, market.held
        self.session_end, self.speed = market.session_end, market.speed
        self.updated = market.updated if market.watches_looks else None
        self.shared = False  # True when the market has other boards (set by join)
        self.settles_busy = True  # whether a look that changes nothing needs settling (join)
        # lazy availability (join): ``free`` means free but for tasks held elsewhere
        self.lazy = False
        self.max_claimed = spec.platform.max_claimed
        self.daily_cap = spec.platform.daily_cap or NO_CAP
        self.pop = view  # the members' attributes, as the discovery engine reads them
        n = len(self.members)
        plat = spec.platform
        # earnings per period, kept only when a rule or the monthly cap needs them
        period = rule.earnings_period
        self.rule_earnings = PeriodTotals(n, period) if period < np.inf else None
        self.monthly_cap = plat.monthly_cap or np.inf
        self.month_earnings = PeriodTotals(n, MONTH) if self.monthly_cap < np.inf else None
        # no daily nor monthly cap: a member can claim when online and below max_claimed
        self.uncapped = self.daily_cap == NO_CAP and self.month_earnings is None
        self.period_totals = [p for p in (self.rule_earnings, self.month_earnings) if p]
        self.scn = scn
        self.discovery: Discovery | None = None
        # the batches' expiries: nearly all are claimed first, and their expiry never queued
        self.expiries = Deadlines(self.env, self._expire, _is_open)
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
        self.cursor = column(np.int64, np.zeros(n, dtype=np.int64))
        self.online_ids: set[int] = set()  # whose cursors a compaction must move
        self.compact_at = COMPACT_SLACK
        # can claim here now: the engines' vector view, written one member at a time through
        # a memoryview; the same flags as a list for fast scalar reads in the hot path
        self.hungry = np.zeros(n, dtype=bool)
        self.hungry_flags = memoryview(self.hungry)
        self.reach = 0  # one past the highest member that has come online: none can claim beyond
        self.free = [False] * n
        self.claims_today = [0] * n
        self.capped: set[int] = set()
        self.earnings = column(np.float64, np.zeros(n))  # on this platform
        # what allocation rules may look at, kept only for a rule that reads it (None if not)
        self.last_claim = [-np.inf] * n if rule.reads_last_claims else None
        self.approved = [0] * n if rule.reads_approvals else None
        self.rejected = [0] * n if rule.reads_approvals else None
        # static eligibility: accepted task types per profile, region, reservation pay
        accepts = np.array(
            [[p.task_types is None or t in p.task_types for t in market.demand.type_names]
             for p in scn.profiles.values()]
        )
        self.accepts_list = accepts.tolist()  # per profile, per task type (a look's reads)
        # per task type, whether each member's profile accepts it (a release's gather)
        self.accepts_kind = list(accepts.T[:, view.profile])
        self.profile = view.profile.tolist()
        self.region = view.region.tolist()
        self.reservation = column(np.float64, view.reservation_pay)

    def join(self, shared: bool, lazy: bool = False) -> None:
        """The market says whether it has other boards than this one, and whether it keeps
        their availability lazily (:meth:`Platform.connect <sim.core.platform.Platform.connect>`):
        then ``free[w]`` means that the member could claim here if it held no task, and a
        release leaves out the members busy anywhere (:meth:`idle_members`)."""
        self.shared = shared
        # a worker busy before a look and after it needs settling only for one of these
        self.settles_busy = shared or self.updated is not None or self.daily_cap < NO_CAP
        self.lazy = lazy
        self.last_look = self.discovery.last_look

    # -- requesters ---------------------------------------------------------------------
    def release(self, b: int) -> None:
        """Put batch ``b`` on the board and tell the discovery engine."""
        m = self.market
        first = m.batch_first[b]
        ob = OpenBatch(b, first, first + m.batch_size[b], m.batch_type[b], m.batch_region[b],
                       m.batch_expected[b], m.batch_rate[b])
        if len(self.batches) >= self.compact_at:
            self._compact()
        self.batches.append(ob)
        self.skip.append(len(self.batches))
        if self.window > 0:
            self._open_round(ob)
        expires = m.batch_expires[b]
        if expires < np.inf:  # at the time a timeout of the delay would reach
            self.expiries.call_at(self.env.now + delay_until(self.env, expires), ob)
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

    def _expire(self, ob: OpenBatch) -> None:
        if ob.open:
            ob.open = False
            status = self.market.status
            for t in range(ob.next, ob.end):
                status[t] = EXPIRED

    # -- workers looking at the board ---------------------------------------------------
    def eligible(self, w: int, ob: OpenBatch) -> bool:
        """Worker ``w``'s profile takes this task type, in its region, at this pay (the test
        :meth:`acceptable` makes inline, with the worker's attributes read once)."""
        return (
            self.accepts_list[self.profile[w]][ob.kind]
            and (ob.region < 0 or self.region[w] == ob.region)
            and self.reservation[w] <= ob.rate
        )

    def idle_members(self) -> np.ndarray:
        """Local ids of the members who can claim here now, in order (a release's candidates
        before eligibility)."""
        idle = np.flatnonzero(self.hungry[:self.reach])
        if self.lazy:  # leave out the busy: free here but holding a task elsewhere
            idle = idle[~self.market.busy_array[self.members_array[idle]]]
        return idle

    def eligible_among(self, ob: OpenBatch, workers: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`eligible` over an array of (local) worker ids."""
        pop = self.pop
        ok = self.accepts_kind[ob.kind][workers] & (pop.reservation_pay[workers] <= ob.rate)
        return ok & (pop.region[workers] == ob.region) if ob.region >= 0 else ok

    def can_claim(self, w: int) -> bool:
        """Online, holding fewer tasks (from every platform) than this platform's maximum, below
        its daily cap and its monthly earnings cap."""
        g = self.members[w]
        return (
            self.online[g]
            and self.held[g] < self.max_claimed
            and (self.uncapped
                 or (self.claims_today[w] < self.daily_cap
                     and (self.month_earnings is None
                          or self.month_earnings.get(w, self.env.now) < self.monthly_cap)))
        )

    def acceptable(self, w: int) -> OpenBatch | None:
        """The oldest batch on the board that worker ``w`` would take (or enter) now, if any."""
        batches, i = self.batches, self.cursor[w]
        n = len(batches)
        if i < n and not batches[i].open:  # at full size, mostly batches claimed since it looked
            i = self.skip[i]  # one jump past the run is the common case (_past_closed inline)
            if i < n and not batches[i].open:
                i = self._past_closed(i, n)
            self.cursor[w] = i
        if i == n:  # nothing open was released since it last stepped over everything
            return None
        g = self.members[w]
        remaining = (self.session_end[g] - self.env.now) / self.speed[g]
        # what eligible() reads of the worker, read once
        accepts, region, reservation = (self.accepts_list[self.profile[w]], self.region[w],
                                        self.reservation[w])
        advancing = True
        while i < n:
            ob = batches[i]
            if not ob.open:
                i = self._past_closed(i, n)
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

    def _past_closed(self, i: int, n: int) -> int:
        """The first open batch at or after ``i`` (``n`` if none): the run of closed batches
        is jumped by its skip links, which are then pointed at its end (path compression)."""
        batches, skip = self.batches, self.skip
        path = []
        while i < n and not batches[i].open:
            path.append(i)
            i = skip[i]
        for k in path:
            skip[k] = i
        return i

    def has_time(self, w: int, ob: OpenBatch) -> bool:
        """Worker ``w`` can still do a task of ``ob`` before its session ends."""
        g = self.members[w]
        return ob.expected <= (self.session_end[g] - self.env.now) / self.speed[g]

    def _fits(self, w: int, ob: OpenBatch) -> bool:
        return self.has_time(w, ob) and self.eligible(w, ob)

    def look(self, w: int, hungry: bool | None = None) -> None:
        """Worker ``w`` looks at the board and claims what it can. ``hungry``: whether it can
        claim (:meth:`can_claim`), when the caller has just checked.

        A batch whose window round is still open (window rules) is entered instead of claimed:
        the rule picks the winners when the round closes. Only a claim changes whether the
        worker can claim more, so that is checked again after each claim only.
        """
        if hungry is None:  # can_claim, inline where no cap applies (a call a look saved)
            g = self.members[w]
            hungry = (self.online[g] and self.held[g] < self.max_claimed) if self.uncapped \
                else self.can_claim(w)
        while hungry and (ob := self.acceptable(w)) is not None:
            if ob.entrants is not None:
                ob.entrants.append(w)
                ob.entered.add(w)
                continue
            t = ob.next
            ob.next = t + 1
            ob.open = t + 1 < ob.end
            g = self.market.claim(self, w, t)
            hungry = self.held[g] < self.max_claimed and self.can_claim(w)
        if hungry or self.free[w] or self.settles_busy:
            self._settle(w, hungry)
        # else: busy before and still, one platform, no cap nor hook: nothing to settle

    # -- window rules: a round of candidates after each release --------------------------
    def _open_round(self, ob: OpenBatch) -> None:
        ob.entrants = []
        expires = delay_until(self.env, self.market.batch_expires[ob.batch])
        # a round never outlives the task; at the time a timeout of the delay would reach
        self.env.call_at(self.env.now + min(self.window, expires), self._close_round, ob)

    def _close_round(self, ob: OpenBatch) -> None:
        if not ob.open:
            return  # expired meanwhile
        candidates = np.array([w for w in ob.entrants if self.can_claim(w) and self._fits(w, ob)],
                              dtype=np.int64)
        ob.entrants, ob.entered = None, set()
        if len(candidates):
            winners = self.rule.choose(candidates, ob.left, self, self.rule_rng)
            for w in winners.tolist():
                ob.next += 1
                self.market.claim(self, w, ob.next - 1)
                self.update(w)
        ob.open = ob.left > 0
        if ob.open:
            self.discovery.released(ob)  # tasks left: first come, first served from now on

    def update(self, w: int) -> None:
        """After worker ``w`` looked (or won a round): idle for the engine if it can still
        claim here, gone if not; then the market's own bookkeeping, if it keeps any."""
        self._settle(w, self.can_claim(w))

    def _settle(self, w: int, hungry: bool) -> None:
        """:meth:`update` with ``hungry`` = :meth:`can_claim` of ``w``, already known.

        A worker that could not claim before the look and still cannot (one who finished a
        task and claimed the next) is already gone for the engine: nothing was armed for it
        since (arming needs it free), so telling the engine again would change nothing.
        """
        if hungry:
            if not self.free[w]:
                self.hungry_flags[w] = self.free[w] = True
            self.discovery.idle(w)
        else:
            if self.shared:  # its phase matters when it is free again (resumed)
                self.last_look[w] = self.env.now
            online = self.online[self.members[w]]
            if self.lazy and online and (self.uncapped or self.claims_today[w] < self.daily_cap):
                # only busy (lazy availability has no monthly cap): free here once done; what
                # was armed for it died with the claim's epoch bump (Platform.claim)
                if not self.free[w]:  # (it mostly was free: it claimed here)
                    self.hungry_flags[w] = self.free[w] = True
            else:
                if self.free[w]:
                    self.leave(w)
                if online and self.claims_today[w] >= self.daily_cap:
                    self.capped.add(w)
        if self.updated is not None:
            self.updated(self.members[w])

    def recheck(self, w: int) -> None:
        """Worker ``w``'s tasks elsewhere changed (it claimed or finished one on another
        platform): whether it can claim here changed too, without it looking here."""
        hungry = self.can_claim(w)
        if hungry == self.free[w]:
            return
        if hungry:
            self.hungry_flags[w] = self.free[w] = True
            self.discovery.resumed(w)
        else:
            self.leave(w)

    def leave(self, w: int) -> None:
        """Worker ``w``, free here until now, cannot claim here any more: the engine drops it."""
        self.hungry_flags[w] = self.free[w] = False
        self.discovery.gone(w)

    # -- what rules see -----------------------------------------------------------------
    def earned_this_period(self, workers: np.ndarray) -> np.ndarray:
        """Earnings of ``workers`` on this platform in the current earnings period of the rule
        (day, week, run)."""
        now = self.env.now
        if self.rule_earnings is None:  # the whole run
            return np.asarray(self.earnings)[workers]
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
    def go_online(self, w: int) -> None:
        """Worker ``w`` (online in the market) opens this platform's app and looks."""
        self.online_ids.add(w)
        if w >= self.reach:  # with the workers who come online numbered first, a short prefix
            self.reach = w + 1
        batches = self.batches
        while self.first_open < len(batches) and not batches[self.first_open].open:
            self.first_open += 1
        self.cursor[w] = self.first_open
        self.look(w)

    def go_offline(self, w: int) -> None:
        """Worker ``w`` goes offline: no longer idle here."""
        self.online_ids.discard(w)
        self.hungry_flags[w] = self.free[w] = False
        self.capped.discard(w)
        self.discovery.gone(w)

    def new_day(self) -> None:
        """Reset daily caps; workers who were capped look at the board again."""
        self.claims_today = [0] * len(self.claims_today)
        capped, self.capped = self.capped, set()
        for w in sorted(capped):
            if self.can_claim(w):
                self.look(w)
            elif self.lazy and self.online[self.members[w]]:  # busy elsewhere: free here when done
                self.hungry_flags[w] = self.free[w] = True


def _is_open(ob: OpenBatch) -> bool:
    """Whether the batch still has tasks that can be claimed (a closed batch never reopens)."""
    return ob.open


def column(dtype: type, values: np.ndarray) -> memoryview:
    """``values`` as a flat buffer of ``dtype``, copied only if they are not one already.

    Indexing the buffer from Python reads and writes plain ints and floats about as fast as a
    list (no float object kept per entry: a full-size market has millions of tasks), and
    ``np.asarray`` reads it back without a copy. A column made from an input array (the
    demand's) shares its memory: the simulation only reads those.
    """
    return memoryview(np.ascontiguousarray(values, dtype=dtype))
