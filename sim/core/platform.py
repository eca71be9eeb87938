"""The market: its workers, their sessions and desks, and the ledger; one board per platform.

A worker is one person whatever the platforms it is registered on: it is online or not, has
a session end and a speed, and works on one task at a time (the task in hand, then the claimed
ones waiting, from whichever platform). What a platform decides and records is its board's
(:mod:`sim.core.board`). How workers *arrive* at a board (the race between them) is delegated
to a discovery engine per board (``sim.core.discovery``); everything that happens once a
worker looks at a board happens there, once, for both engines.
"""

from __future__ import annotations

from collections import deque
from heapq import heappush

import numpy as np
from simpy.core import NORMAL

from sim.core.board import NO_CAP, Board, column
from sim.core.clock import Clock
from sim.core.demand import Demand
from sim.core.population import NOTIFICATION, Population
from sim.core.status import ABANDONED, APPROVED, CLAIMED, OPEN, REJECTED
from sim.foundation.units import HOUR
from sim.scenario.schema import Scenario


class Platform:
    """Workers, desks and ledger of one run, and its boards (one per platform). Mutated only
    from SimPy event callbacks."""

    def __init__(self, env: Clock, scn: Scenario, pop: Population, demand: Demand) -> None:
        self.env = env
        self.scn = scn
        self.pop = pop
        self.demand = demand
        n, m = pop.size, demand.n_tasks
        self.boards: list[Board] = []
        self.shared = False  # True with several boards (set by connect)
        self.lazy = False  # availability across boards kept lazily (set by connect)
        self._completion = self._complete  # bound once: scheduled at every task's start
        # the clock's queue and event numbers: a completion is scheduled as Clock.call_at
        # would, pushed here directly (once a task, on the hot path)
        self._queue, self._eid = env._queue, env._eid
        # per worker, (board, local id) of each of its platforms in the order it opens them
        self.apps: list[list[tuple[Board, int]]] = []  # set by connect
        # worker state: python lists where entries are bools and small ints (shared objects),
        # flat buffers where a list would hold a float or a large int object per entry (at
        # full size the worker of a task is cold in the caches: a read of a buffer touches
        # one cache line, a list's a slot and an object)
        self.speed = column(np.float64, pop.speed.copy())  # (adaptive supply changes it)
        self.rejection = column(np.float64, pop.rejection_probability)
        self.online = [False] * n
        self.session_end = column(np.float64, np.zeros(n))
        self.held = [0] * n  # claimed and unfinished, on every platform
        # holding a task, kept only with lazy availability (connect) for its boards' releases
        self.busy_array = np.zeros(n, dtype=bool)
        self.busy = memoryview(self.busy_array)
        # times it became busy, kept only with lazy availability: part of the stamp of what
        # the race engines arm for it, so that a claim kills it on every board at once
        self.epoch_array = np.zeros(n, dtype=np.int64)
        self.epoch = memoryview(self.epoch_array)
        self.notified = (pop.mode == NOTIFICATION).tolist()
        self.current = column(np.int64, np.full(n, -1, dtype=np.int64))  # the task in hand
        self.queue: dict[int, deque[int]] = {}  # claimed tasks waiting behind ``current``
        # running totals: flat buffers like the task records below (an addition a task reads
        # and writes 8 bytes in place instead of a list's pointer and a float object)
        self.earnings = column(np.float64, np.zeros(n))
        self.work_time = column(np.float64, np.zeros(n))
        self.unpaid_work = column(np.float64, np.zeros(n))
        # task records (columnar, filled during the run) and the tasks' own numbers: flat
        # typed buffers (8 bytes a task, no float object per entry: a full-size market has
        # millions of tasks) with fast scalar access from Python (board.column)
        self.claimed_at = column(np.float64, np.full(m, np.nan))
        self.started_at = column(np.float64, np.full(m, np.nan))
        self.completed_at = column(np.float64, np.full(m, np.nan))
        self.worker = column(np.int64, np.full(m, -1, dtype=np.int64))
        # the worker's local id on the task's board, written at the claim and read back at
        # the completion (a map from market ids per board, a dict, was 4 % of the market's
        # loop)
        self.task_local = column(np.int32, np.zeros(m, dtype=np.int32))
        self.status = column(np.int8, np.full(m, OPEN, dtype=np.int8))
        task_batch = np.repeat(np.arange(len(demand.batch_size)), demand.batch_size)
        self.task_board = column(np.int16, demand.batch_platform[task_batch])
        self.batch_board = demand.batch_platform.tolist()
        self.task_reward = column(np.float64, demand.batch_reward[task_batch])
        self.task_work = column(np.float64, demand.batch_effort[task_batch] * demand.task_spread)
        self.task_travel = column(np.float64, demand.task_travel)
        self.task_draw = column(np.float64, demand.task_approval_draw)
        # what a board reads of a batch when it is released
        self.batch_first = column(np.int64, demand.batch_first_task)
        self.batch_size = column(np.int64, demand.batch_size)
        self.batch_type = column(np.int64, demand.batch_type)
        self.batch_region = column(np.int64, demand.batch_region)
        self.batch_expires = column(np.float64, demand.batch_expires)
        travel = np.array([0.0 if tt.travel is None else tt.travel.mean()
                           for tt in (scn.task_types[name] for name in demand.type_names)])
        # seconds of work incl. mean travel for a typical worker, and reward per hour of it
        expected = demand.batch_effort + travel[demand.batch_type]
        with np.errstate(divide="ignore"):
            rate = np.where(expected > 0, demand.batch_reward * HOUR / expected, np.inf)
        self.batch_expected = column(np.float64, expected)
        self.batch_rate = column(np.float64, rate)

    def connect(self, boards: list[Board], offsets: np.ndarray | None,
                platform_of: np.ndarray | None) -> None:
        """Take the market's boards and give each worker its apps, in the order it opens them
        (its memberships' draw order; with one platform, that one)."""
        self.boards = boards
        self.shared = len(boards) > 1
        if platform_of is None:
            self.apps = [[(boards[0], g)] for g in range(self.pop.size)]
        else:  # a registration's local id: its rank among its platform's, which are in order
            local = np.empty(len(platform_of), dtype=np.int64)
            for p in range(len(boards)):
                mine = platform_of == p
                local[mine] = np.arange(np.count_nonzero(mine))
            apps = list(zip([boards[p] for p in platform_of.tolist()], local.tolist(),
                            strict=True))
            edges = offsets.tolist()
            self.apps = [apps[edges[g]:edges[g + 1]] for g in range(self.pop.size)]
        # Lazy availability: with one task at a time everywhere and no time-dependent cap, a
        # claim makes the worker busy on every board and its completion free again; instead of
        # telling each other board (leave, then recheck and resume), the claim kills what the
        # engines of its boards armed for it (a bump of its busy epoch, part of every stamp
        # the race engines check: RaceEngine.stamp), releases leave busy workers out,
        # and the completion resumes only refreshers (a notified worker waits for the next
        # notification either way). The same looks, draws and records as the eager bookkeeping
        # (tests/test_platforms.py compares them); the polling oracle keeps the eager one.
        self.lazy = self.shared and all(
            board.discovery.masks_busy and board.max_claimed == 1 and board.month_earnings is None
            for board in boards)
        for board in boards:
            board.join(self.shared, self.lazy)

    # -- requesters ---------------------------------------------------------------------
    def release(self, b: int) -> None:
        """Put batch ``b`` on its platform's board."""
        self.boards[self.batch_board[b]].release(b)

    # -- claims and work ----------------------------------------------------------------
    def claim(self, board: Board, local: int, t: int) -> int:
        """Worker ``local`` of ``board`` claims task ``t`` of that board now: the board's
        records of the member and the market's of the task and the worker (one call a claim,
        on the hot path); returns the worker's market id."""
        now = self.env.now
        if board.daily_cap < NO_CAP:  # counted only where a cap reads it
            board.claims_today[local] += 1
        if board.last_claim is not None:  # kept for a rule that reads it
            board.last_claim[local] = now
        w = board.members[local]
        self.claimed_at[t] = now
        self.worker[t] = w
        self.task_local[t] = local
        self.status[t] = CLAIMED
        self.held[w] += 1
        if self.current[w] < 0:  # it starts now: _start, inline (a call a task: 2 % of the
            # baseline's instructions, measured with benchmarks/bench_instructions.py)
            self.current[w] = t
            self.started_at[t] = now
            done = now + (self.task_work[t] * self.speed[w] + self.task_travel[t])
            if done < self.session_end[w]:
                heappush(self._queue, (done, NORMAL, next(self._eid), self._completion, t))
        elif w in self.queue:
            self.queue[w].append(t)
        else:
            self.queue[w] = deque((t,))
        if self.shared:
            if self.lazy:  # busy now (one task at a time): what was armed for it anywhere dies
                self.busy[w] = True
                self.epoch[w] += 1
            elif len(self.apps[w]) > 1:  # on other platforms too
                self._recheck(w, board)
        return w

    def _recheck(self, w: int, board: Board) -> None:
        """Worker ``w``'s tasks changed: its other platforms see whether it can claim (where it
        holds the platform's maximum now, it cannot)."""
        held = self.held[w]
        for other, local in self.apps[w]:
            if other is board:
                continue
            if held < other.max_claimed:
                other.recheck(local)
            elif other.free[local]:  # it holds that platform's maximum now
                other.leave(local)

    watches_looks = False
    """True when :meth:`updated` must hear of every look (adaptive supply's patience)."""

    def updated(self, w: int) -> None:
        """Worker ``w`` has just looked at a board (a hook of adaptive supply)."""

    def _start(self, w: int, t: int) -> None:
        """Worker ``w`` starts task ``t`` (it was not working)."""
        now = self.env.now
        self.current[w] = t
        self.started_at[t] = now
        done = now + (self.task_work[t] * self.speed[w] + self.task_travel[t])
        if done < self.session_end[w]:  # at the very end, the session ends first
            heappush(self._queue, (done, NORMAL, next(self._eid), self._completion, t))
        # otherwise the session ends first and the task is abandoned then

    def _complete(self, t: int) -> None:
        """Task ``t`` is done (its worker's): approved or rejected, paid, the next one started,
        and the worker looks at that platform again."""
        w = self.worker[t]
        now = self.env.now
        self.completed_at[t] = now
        spent = now - self.started_at[t]
        board = self.boards[self.task_board[t]]
        local = self.task_local[t]
        if self.task_draw[t] >= self.rejection[w]:
            self.status[t] = APPROVED
            reward = self.task_reward[t]
            self.earnings[w] += reward
            self.work_time[w] += spent
            board.earnings[local] += reward  # its ledger on that platform
            if board.approved is not None:  # counted for a rule that reads them
                board.approved[local] += 1
            for totals in board.period_totals:
                totals.add(local, now, reward)
        else:
            self.status[t] = REJECTED
            self.unpaid_work[w] += spent
            if board.rejected is not None:
                board.rejected[local] += 1
        self.held[w] -= 1
        self.current[w] = -1
        if self.queue and (queue := self.queue.get(w)):
            self._start(w, queue.popleft())
        # can_claim, inline where no cap applies (a call a task)
        if (self.online[w] and self.held[w] < board.max_claimed) if board.uncapped \
                else board.can_claim(local):
            board.look(local, True)  # a worker who just finished a task looks there at once
        if self.shared:
            if self.lazy:
                if self.held[w] == 0:  # free again (it did not claim there): refreshes resume
                    self.busy[w] = False
                    if not self.notified[w]:
                        for other, other_local in self.apps[w]:
                            if other is not board and other.free[other_local]:
                                other.discovery.resumed(other_local)
            elif len(self.apps[w]) > 1:
                self._recheck(w, board)

    # -- sessions and days --------------------------------------------------------------
    def go_online(self, w: int, end: float) -> None:
        """Worker ``w`` comes online until ``end`` and looks at each of its platforms."""
        self.online[w] = True
        self.session_end[w] = end
        for board, local in self.apps[w]:
            board.go_online(local)

    def go_offline(self, w: int) -> None:
        """Worker ``w`` goes offline: unfinished work is abandoned, unpaid."""
        now = self.env.now
        self.online[w] = False
        for board, local in self.apps[w]:
            board.go_offline(local)
        t = self.current[w]
        if t >= 0:
            self.unpaid_work[w] += now - self.started_at[t]
            self.status[t] = ABANDONED
            self.current[w] = -1
        for t in self.queue.pop(w, ()):
            self.status[t] = ABANDONED
        self.held[w] = 0
        self.busy[w] = False

    def hungry(self, w: int) -> bool:
        """Worker ``w`` can claim on at least one of its platforms."""
        return any(board.free[local] for board, local in self.apps[w])

    def new_day(self) -> None:
        """Reset daily caps; workers who were capped look at the board again."""
        for board in self.boards:
            board.new_day()

    def finish(self) -> None:
        """Close the run at the horizon: everyone still online goes offline."""
        for w in np.flatnonzero(np.asarray(self.online)):
            self.go_offline(int(w))
