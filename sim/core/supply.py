"""Adaptive labour supply during a run: giving up, extending and skipping sessions, leaving
and joining the platform, learning (scenario sections in :mod:`sim.scenario.supply`).

:class:`AdaptivePlatform` is the platform of a run whose supply adapts: it adds to the
platform's bookkeeping what the behaviours need (earnings today and this month, time online
per day, tasks done) and runs each worker's planned sessions itself (:meth:`worker_life`),
deciding at each one's start and planned end what the worker does. A run with fixed supply
uses the plain :class:`~sim.core.platform.Platform` and its unchanged event sequence.

Every random decision reads a draw made when the population was built (:class:`Traits`:
one per worker or per planned session, from named streams), never a stream consumed in event
order, so that changing the allocation rule changes what workers do but not the draws they
do it with (common random numbers survive adaptation).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim.core.board import Board
from sim.core.clock import Clock, delay_until
from sim.core.demand import Demand
from sim.core.platform import Platform
from sim.core.population import Population
from sim.foundation.units import DAY, HOUR, MONTH
from sim.scenario.schema import Scenario

INF = math.inf


class AdaptivePlatform(Platform):
    """The platform plus the state and decisions of adaptive labour supply."""

    def __init__(self, env: Clock, scn: Scenario, pop: Population, demand: Demand) -> None:
        super().__init__(env, scn, pop, demand)
        traits = pop.traits
        n = pop.size
        profiles = list(scn.profiles.values())
        self.traits = traits
        self.profile_supply = [p.supply for p in profiles]
        self.registered = [i < pop.initial for i in range(n)]
        self.joined = list(self.registered)  # registered at some point (has rows)
        self.joined_at = pop.joined_at.tolist()
        self.left_at = [INF] * n
        self.base_speed = pop.speed.tolist()
        self.done = [0] * n
        self.learning = traits.learning_rate.tolist()
        self.floor = [(p.supply.learning.floor if p.supply and p.supply.learning else 1.0)
                      for p in profiles]
        self.patience = traits.patience.tolist()
        self.patience_token = [0] * n
        self.waiting = [False] * n  # idle with the patience clock running
        self.found_work = [False] * n
        self.earned_today = [0.0] * n
        self.earned_month = [0.0] * n
        self.online_since = [0.0] * n
        self.sessions: list[tuple[int, float, float]] = []
        self.session_done: dict[int, tuple[int, simpy.Event]] = {}
        # pay history for leaving and joining: one column per day of the longest window
        windows = [p.supply.leaving.window for p in profiles if p.supply and p.supply.leaving]
        joining = scn.supply.joining
        if joining is not None:
            windows.append(joining.window)
        self.days = max(1, math.ceil(max(windows, default=DAY) / DAY))
        self.day_earnings = np.zeros((n, self.days))
        self.day_online = np.zeros((n, self.days))
        self.day_index = 0
        self.online_today = np.zeros(n)
        self.hazard = np.zeros(n)
        self.quit_threshold = traits.quit_threshold
        self.leaving = [p.supply.leaving if p.supply else None for p in profiles]
        self.joining = joining
        self.join_factor = 1.0  # current registration rate / highest rate

    # -- the life of a worker ---------------------------------------------------------------
    def worker_life(self, w: int, first: int, last: int) -> Generator[simpy.Event, Any, None]:
        """Worker ``w``: registers at its join time (candidates: if the rate lets it), then
        goes through its planned sessions ``first..last-1`` (indices in the session list),
        each of which it may skip, end early or extend, until it leaves."""
        env, pop = self.env, self.pop
        if w >= pop.initial:
            yield env.timeout(delay_until(env, self.joined_at[w]))
            if pop.join_draw[w - pop.initial] >= self.join_factor:
                return  # the registration rate was below its peak: this candidate never came
            self._register(w)
        starts, ends = pop.session_start, pop.session_end
        for s in range(first, last):
            yield env.timeout(delay_until(env, float(starts[s])))
            if not self.registered[w]:
                return
            end = float(ends[s])
            if end <= env.now or self._skips(w, s):
                continue
            done = env.event()
            self._start_session(w, s, end, done)
            yield done

    def _register(self, w: int) -> None:
        self.registered[w] = self.joined[w] = True
        self._hazard_until_midnight(w)

    def start(self) -> None:
        """At time 0: the workers registered from the start are at risk of leaving from now."""
        for w in range(self.pop.initial):
            self._hazard_until_midnight(w)

    def _skips(self, w: int, s: int) -> bool:
        """Above its target at a session's planned start, a target earner may skip it."""
        target = self.profile_supply[self.pop.profile[w]]
        target = target.target if target is not None else None
        if target is None:
            return False
        ratio = self._target_ratio(w, pro_rated=False)
        if ratio < 1:
            return False
        return bool(self.traits.skip_draw[s] < 1 - math.exp(-target.strength * ratio))

    def _target_ratio(self, w: int, pro_rated: bool) -> float:
        """Earned over target for the binding target: the smaller of the daily and the monthly
        ratio (the monthly target pro-rated to the time of the 30-day month when ``pro_rated``);
        NaN without a target."""
        ratios = []
        daily, monthly = self.traits.daily_target[w], self.traits.monthly_target[w]
        if daily == daily:
            ratios.append(self.earned_today[w] / daily if daily > 0 else INF)
        if monthly == monthly:
            share = ((self.env.now % MONTH) / MONTH) if pro_rated else 1.0
            goal = monthly * share
            ratios.append(self.earned_month[w] / goal if goal > 0 else INF)
        return min(ratios) if ratios else math.nan

    def _start_session(self, w: int, s: int, end: float, done: simpy.Event) -> None:
        self.found_work[w] = False
        self.online_since[w] = self.env.now
        self.session_done[w] = (s, done)
        self.go_online(w, end)
        ev = self.env.timeout(delay_until(self.env, end), (w, s, True))
        ev.callbacks.append(self._planned_end)

    def _planned_end(self, event: simpy.Event) -> None:
        """At a session's planned end: extend it (found work, or below target) or end it."""
        w, s, planned = event.value
        if self.session_done.get(w, (None,))[0] != s or not self.online[w]:
            return  # already ended (gave up, left)
        if planned:
            extra = self._extension(w, s)
            if extra > 0:
                end = self.env.now + extra
                self.session_end[w] = end
                ev = self.env.timeout(extra, (w, s, False))
                ev.callbacks.append(self._planned_end)
                return
        self._end_session(w)

    def _extension(self, w: int, s: int) -> float:
        """Seconds by which worker ``w`` extends session ``s`` at its planned end (0: none):
        with the continuation probability if it found work, and with probability
        1 - exp(-strength * shortfall) while below its target; one draw decides both."""
        supply = self.profile_supply[self.pop.profile[w]]
        if supply is None:
            return 0.0
        keep = 1.0  # probability of not extending
        length = 0.0
        if supply.continuation is not None and self.found_work[w]:
            keep *= 1 - supply.continuation.probability
            length = float(self.traits.continuation[s])
        if supply.target is not None:
            ratio = self._target_ratio(w, pro_rated=True)
            if ratio == ratio and ratio < 1:
                keep *= math.exp(-supply.target.strength * (1 - ratio))
                length = max(length, float(self.traits.target_extension[s]))
        return length if self.traits.extend_draw[s] >= keep else 0.0

    def _end_session(self, w: int) -> None:
        _, done = self.session_done.pop(w)
        self.go_offline(w)
        done.succeed()

    # -- platform hooks -------------------------------------------------------------------
    def go_offline(self, w: int) -> None:
        """Offline, recording the session as it happened and the time online today."""
        if self.online[w]:
            now = self.env.now
            self.sessions.append((w, self.online_since[w], now))
            self.online_today[w] += now - max(self.online_since[w], now - now % DAY)
        self._stop_waiting(w)
        super().go_offline(w)

    def _stop_waiting(self, w: int) -> None:
        self.waiting[w] = False
        self.patience_token[w] += 1  # cancels the patience clock that was running

    def claim(self, board: Board, local: int, t: int) -> int:
        w = board.members[local]
        self.found_work[w] = True
        self._stop_waiting(w)
        return super().claim(board, local, t)

    watches_looks = True

    def updated(self, w: int) -> None:
        if self.hungry(w) and self.current[w] < 0 and not self.waiting[w] \
                and self.patience[w] < INF:  # idle from now: the patience clock starts
            self.waiting[w] = True
            self.patience_token[w] += 1
            ev = self.env.timeout(self.patience[w], (w, self.patience_token[w]))
            ev.callbacks.append(self._impatient)

    def _impatient(self, event: simpy.Event) -> None:
        w, token = event.value
        if token == self.patience_token[w] and self.online[w] and self.current[w] < 0 \
                and w in self.session_done:
            self._end_session(w)

    def _complete(self, t: int) -> None:
        w = self.worker[t]
        rate = self.learning[w]
        if rate > 0:  # practice: the next tasks take less time
            self.done[w] += 1
            floor = self.floor[self.pop.profile[w]]
            self.speed[w] = self.base_speed[w] * max(floor, (1 + self.done[w]) ** -rate)
        super()._complete(t)
        if self.status[t] == 0:  # approved: counts towards targets and pay
            reward = self.task_reward[t]
            self.earned_today[w] += reward
            self.earned_month[w] += reward

    # -- days: pay history, leaving, joining ------------------------------------------------
    def new_day(self) -> None:
        """Midnight: close the day's pay history, decide who leaves today, set today's
        registration rate; then the platform's own daily reset."""
        now = self.env.now
        for w in np.flatnonzero(np.asarray(self.online)).tolist():  # time online until now
            self.online_today[w] += now - max(self.online_since[w], now - DAY)
        self.day_online[:, self.day_index] = self.online_today
        self.online_today[:] = 0.0
        self.day_earnings[:, self.day_index] = self.earned_today  # the day's pay, closed
        self.earned_today = [0.0] * len(self.earned_today)
        if now % MONTH < 1e-6 or MONTH - now % MONTH < 1e-6:
            self.earned_month = [0.0] * len(self.earned_month)
        self._leave_today()
        self._set_join_rate()
        self.day_index = (self.day_index + 1) % self.days
        super().new_day()

    def _window_pay(self, window: float) -> tuple[np.ndarray, np.ndarray]:
        """Per worker, earnings and hours online over the last ``window`` (whole days)."""
        k = max(1, min(self.days, round(window / DAY)))
        cols = [(self.day_index - i) % self.days for i in range(k)]
        return self.day_earnings[:, cols].sum(axis=1), self.day_online[:, cols].sum(axis=1) / HOUR

    def _rates(self) -> np.ndarray:
        """Each worker's quit rate per day for the coming day (0 for those who do not leave
        on pay, or are not registered)."""
        profile = self.pop.profile
        rates = np.zeros(len(profile))
        registered = np.asarray(self.registered)
        for p, leaving in enumerate(self.leaving):
            if leaving is None:
                continue
            ids = np.flatnonzero((profile == p) & registered)
            earned, hours = self._window_pay(leaving.window)
            earned, hours = earned[ids], hours[ids]
            judged = hours >= leaving.min_hours / HOUR
            ratio = np.where(judged, earned / np.where(hours > 0, hours, 1.0), 0.0)
            ratio = ratio / np.maximum(self.traits.expectation[ids], 1e-12)
            with np.errstate(over="ignore"):
                logistic = 1 / (1 + np.exp(leaving.steepness * (ratio - leaving.midpoint)))
            rate = leaving.base_rate + (leaving.max_rate - leaving.base_rate) * logistic
            rates[ids] = np.where(judged, rate, leaving.base_rate) / 30.0
        return rates

    def _leave_today(self) -> None:
        """Add the day's hazard to each worker's cumulative hazard; those whose threshold it
        passes leave during the day, at the exact time it is passed."""
        rates = self._rates()
        after = self.hazard + rates
        leaving = np.flatnonzero((rates > 0) & (after >= self.quit_threshold))
        for w in leaving.tolist():
            delay = (self.quit_threshold[w] - self.hazard[w]) / rates[w] * DAY
            ev = self.env.timeout(max(delay, 0.0), w)
            ev.callbacks.append(self._leave)
        self.hazard = np.where(rates > 0, after, self.hazard)

    def _hazard_until_midnight(self, w: int) -> None:
        """A worker who registers during a day is at risk from then on, at its profile's base
        rate (it has no pay to judge yet)."""
        leaving = self.leaving[self.pop.profile[w]]
        if leaving is None or leaving.base_rate == 0:
            return
        rate = leaving.base_rate / 30.0
        left_of_day = (DAY - self.env.now % DAY) / DAY
        if self.hazard[w] + rate * left_of_day >= self.quit_threshold[w]:
            delay = (self.quit_threshold[w] - self.hazard[w]) / rate * DAY
            ev = self.env.timeout(max(delay, 0.0), w)
            ev.callbacks.append(self._leave)
        self.hazard[w] += rate * left_of_day

    def _leave(self, event: simpy.Event) -> None:
        w = event.value
        if not self.registered[w]:
            return
        self.registered[w] = False
        self.left_at[w] = self.env.now
        if w in self.session_done:
            self._end_session(w)

    def _set_join_rate(self) -> None:
        """Registration rate for the coming day, as a share of its peak: (recent market pay /
        reference) ** elasticity, capped at the peak."""
        joining = self.joining
        if joining is None or joining.pay_elasticity == 0:
            return
        earned, hours = self._window_pay(joining.window)
        total = hours.sum()
        pay = earned.sum() / total if total > 0 else 0.0
        rate = (pay / joining.reference_pay) ** joining.pay_elasticity
        self.join_factor = min(rate, joining.max_factor) / joining.max_factor

    def finish(self) -> None:
        """Close the run: sessions still open end at the horizon."""
        for w in list(self.session_done):
            self._end_session(w)
        super().finish()
