"""Each invariant checker of ``sim.results.invariants`` on its own: silent on a clean run, and
reporting a violation of its family planted in the tables (tests/test_invariants.py checks the
combined ``check`` on every shipped scenario)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd
import pytest

import sim
from sim.results import invariants
from sim.results.invariants.claims import check_claims
from sim.results.invariants.concurrency import check_concurrency
from sim.results.invariants.money import check_money
from sim.results.invariants.sessions import check_sessions
from sim.results.invariants.status import check_status
from sim.results.invariants.times import check_times
from sim.results.invariants.view import RunView
from tests.conftest import SMALL_SCENARIO

Corruption = Callable[[pd.DataFrame, pd.DataFrame], None]
"""Plants one violation in copies of the tasks and workers tables."""
Checker = Callable[[RunView], list[str]]


@pytest.fixture(scope="module")
def clean() -> sim.RunResult:
    """The small scenario with a daily cap, so that every family has something to check."""
    return sim.run(sim.override(sim.load_scenario(SMALL_SCENARIO),
                                {"platform.daily_cap": 4}), seed=2)


def _approved(tasks: pd.DataFrame) -> pd.Index:
    return tasks.index[tasks["status"] == "approved"]


def student_takes_a_photo(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    """A student (surveys and searches only) made to claim a shelf photo."""
    students = workers.loc[workers["profile"] == "student", "worker_id"]
    i = tasks.index[(tasks["status"] == "approved") & tasks["worker_id"].isin(students)][0]
    tasks.loc[i, "task_type"] = "shelf_photo"


def claim_in_another_region(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    """A task made regional, in the region where its worker does not live."""
    i = _approved(tasks)[0]
    home = workers.set_index("worker_id").loc[tasks.loc[i, "worker_id"], "region"]
    tasks.loc[i, "region"] = "south" if home == "north" else "north"


def miscounted_claims(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    workers.loc[workers.index[workers["tasks_claimed"] > 0][0], "tasks_claimed"] += 1


def unknown_status(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    tasks.loc[_approved(tasks)[0], "status"] = "lost"


def paid_rejection(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    tasks.loc[tasks.index[tasks["status"] == "rejected"][0], "paid"] = 1.0


def completed_before_start(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    i = _approved(tasks)[0]
    tasks.loc[i, "completed_at"] = tasks.loc[i, "started_at"] - 5


def earnings_off(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    workers.loc[workers.index[workers["earnings"] > 0][0], "earnings"] += 0.5


def online_time_off(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    workers.loc[workers.index[workers["online_time"] > 0][0], "online_time"] += 60


def work_time_off(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    workers.loc[workers.index[workers["work_time"] > 0][0], "work_time"] += 30


def overlapping_work(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    """A worker's second approved task moved into the middle of its first one."""
    done = tasks.loc[_approved(tasks)].sort_values(["worker_id", "started_at"])
    a, b = done.groupby("worker_id").filter(lambda g: len(g) >= 2).index[:2]
    tasks.loc[b, ["claimed_at", "started_at"]] = (tasks.loc[a, "started_at"]
                                                  + tasks.loc[a, "completed_at"]) / 2


def over_the_daily_cap(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    """Five claims of the first hour given to one worker (the cap is 4)."""
    five = _approved(tasks)[:5]
    tasks.loc[five, "worker_id"] = tasks.loc[five[0], "worker_id"]
    tasks.loc[five, "claimed_at"] = 3600.0


def left_before_working(tasks: pd.DataFrame, workers: pd.DataFrame) -> None:
    """A worker with sessions said to have left at time 1 s (registration columns added, as
    when supply adapts)."""
    workers["joined_at"] = 0.0
    workers["left_at"] = float("inf")
    workers.loc[workers.index[workers["sessions"] > 0][0], "left_at"] = 1.0


CASES: list[tuple[Checker, Corruption, str]] = [
    (check_claims, student_takes_a_photo, "claims: a worker claimed a task type its profile"),
    (check_claims, claim_in_another_region, "claims: a regional task was claimed by a worker"),
    (check_claims, miscounted_claims, "claims: workers.tasks_claimed does not match"),
    (check_status, unknown_status, "status: unknown status"),
    (check_status, paid_rejection, "status: only approved tasks are paid"),
    (check_times, completed_before_start, "times: started_at <= completed_at"),
    (check_money, earnings_off, "money: a worker's earnings"),
    (check_sessions, online_time_off, "offline: online_time"),
    (check_sessions, work_time_off, "offline: work_time"),
    (check_sessions, left_before_working, "registration: a worker was online"),
    (check_concurrency, overlapping_work, "one task at a time: a task started before"),
    (check_concurrency, over_the_daily_cap, "daily cap: 1 worker-days with more than 4 claims"),
]


def test_every_checker_is_silent_on_a_clean_run(clean: sim.RunResult) -> None:
    view = RunView(clean)
    assert {c.__name__: c(view) for c in invariants.CHECKERS} == {
        c.__name__: [] for c in invariants.CHECKERS}


@pytest.mark.parametrize(("checker", "corrupt", "message"), CASES,
                         ids=[case[1].__name__ for case in CASES])
def test_checker_reports_its_violation(clean: sim.RunResult, checker: Checker,
                                       corrupt: Corruption, message: str) -> None:
    workers = clean.workers.copy()
    tasks = clean.tasks.astype({"status": str, "task_type": str, "region": object})
    corrupt(tasks, workers)
    bad = dataclasses.replace(clean, tasks=tasks, workers=workers)
    found = checker(RunView(bad))
    assert any(p.startswith(message) for p in found), found
    assert set(found) <= set(invariants.check(bad))
