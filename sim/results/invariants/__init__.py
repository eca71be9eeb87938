"""Invariants every run must satisfy, checked on its result tables (docs/results-contract.md).

:func:`check` returns a list of human-readable violations (empty when everything holds);
:func:`assert_ok` raises ``AssertionError`` listing them. One checker per family of
invariants, each a function of a :class:`~sim.results.invariants.view.RunView` (the tables as
arrays, computed once) returning its messages; checks are vectorised over the tables of
``docs/results-contract.md``:

* **claims** (:mod:`.claims`) — task ids unique; a task is claimed at most once, and a claimed
  task has a worker (``claimed_at`` set ⇔ ``worker_id`` set); per-worker claim counters match
  the tasks; a worker only claims tasks it is eligible for (task types of its profile, region).
* **status is consistent** (:mod:`.status`) — approved ⇒ ``paid == reward``, otherwise
  ``paid == 0``; approved/rejected ⇒ completed; abandoned ⇒ claimed, not completed;
  open/expired ⇒ never claimed; expired ⇒ ``expires_at <= horizon``; open ⇒
  ``expires_at >= horizon``.
* **times are ordered** (:mod:`.times`) — ``0 <= released_at <= claimed_at <= started_at <=
  completed_at <= horizon`` and ``claimed_at <= expires_at``.
* **money is conserved** (:mod:`.money`) — what requesters pay (``Σ reward·(1 + commission)``
  over approved tasks) equals worker pay plus platform fees (``Σ paid + Σ fee``);
  ``Σ paid = Σ earnings`` overall and per worker; ``withheld`` follows the payout threshold.
* **nobody works while offline** (:mod:`.sessions`) — every claim, start and completion lies
  in one session of the worker; ``online_time`` is the total length of its sessions;
  ``work_time`` is the time spent on approved tasks and ``unpaid_work_time`` the time spent on
  rejected and abandoned ones; ``work_time + unpaid_work_time <= online_time``; when supply
  adapts, sessions lie between ``joined_at`` and ``left_at`` (nobody works before joining or
  after leaving).
* **one task at a time** (:mod:`.concurrency`) — per worker, the work intervals
  ``[started_at, end)`` do not overlap (``end`` = ``completed_at``, or the end of the session
  for work abandoned in progress), and a worker never holds more than ``platform.max_claimed``
  claimed, unfinished tasks; at most ``platform.daily_cap`` claims per worker per calendar day.

Session intervals: a :class:`~sim.results.RunResult` with a ``sessions`` table (columns
``worker_id``, ``start`` or ``started_at``, ``end`` or ``ended_at``) is used as is; otherwise
the sessions are rebuilt from the run's scenario and seed with
:func:`sim.core.population.build_population`, which draws them from their own named streams
(same seed, same sessions, whatever the platform did).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.results.invariants.claims import check_claims
from sim.results.invariants.concurrency import check_concurrency
from sim.results.invariants.money import check_money
from sim.results.invariants.sessions import check_sessions
from sim.results.invariants.status import check_status
from sim.results.invariants.times import check_times
from sim.results.invariants.view import RunView, session_table

if TYPE_CHECKING:
    from sim.results.run_result import RunResult

__all__ = ["CHECKERS", "RunView", "assert_ok", "check", "session_table"]

CHECKERS: tuple[Callable[[RunView], list[str]], ...] = (
    check_claims, check_status, check_times, check_money, check_sessions, check_concurrency)
"""The checkers :func:`check` runs, in the order of their messages."""


def check(result: RunResult) -> list[str]:
    """Check every invariant of a run; return the violations (empty list when all hold).

    Each message names the invariant and quotes a few offending rows.
    """
    run = RunView(result)
    return [message for checker in CHECKERS for message in checker(run)]


def assert_ok(result: RunResult) -> None:
    """Raise ``AssertionError`` listing every violated invariant of ``result``."""
    problems = check(result)
    if problems:
        raise AssertionError(
            f"{len(problems)} invariant(s) violated in run {getattr(result, 'seed', '?')}"
            f" of scenario {result.scenario.name!r}:\n  - " + "\n  - ".join(problems)
        )
