"""Nobody works while offline: sessions lie in the horizon without overlapping; every claim,
start and completion falls in a session of the worker; ``online_time`` is the length of its
sessions, ``work_time`` the time spent on approved tasks, ``unpaid_work_time`` on rejected and
abandoned ones, and the two together fit in ``online_time``. When supply adapts, every session
lies between the worker's ``joined_at`` and ``left_at``: nobody works before joining or after
leaving."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results.invariants.view import (
    ATOL,
    RTOL,
    TASK_COLUMNS,
    RunView,
    close,
    examples,
    floats,
    worker_mismatch,
)


def _session_intervals(sessions: pd.DataFrame, n_workers: int, horizon: float) -> list[str]:
    """Violations of the sessions table itself: bounds, known worker, no overlap."""
    out = []
    s, e = sessions["start"].to_numpy(), sessions["end"].to_numpy()
    w = sessions["worker_id"].to_numpy()
    bad = (s < -ATOL) | (e > horizon + ATOL) | ~(e > s) | (w < 0) | (w >= n_workers)
    if bad.any():
        out.append(
            "sessions: a session must lie in [0, horizon] with start < end and a known worker: "
            + examples(sessions, bad, ["worker_id", "start", "end"])
        )
    same = np.zeros(len(w), dtype=bool)
    same[1:] = w[1:] == w[:-1]
    overlap = np.zeros(len(w), dtype=bool)
    overlap[1:] = same[1:] & (s[1:] < e[:-1] - ATOL)
    if overlap.any():
        out.append(
            "sessions: sessions of one worker overlap: "
            + examples(sessions, overlap, ["worker_id", "start", "end"])
        )
    return out


def _registration(sessions: pd.DataFrame, workers: pd.DataFrame) -> list[str]:
    """Violations of registration: a session before the worker joined or after it left."""
    if "joined_at" not in workers or not len(sessions):
        return []
    who = sessions["worker_id"].to_numpy()
    joined = floats(workers["joined_at"])[who]
    left = floats(workers["left_at"])[who]
    bad = (sessions["start"].to_numpy() < joined - ATOL) | \
        (sessions["end"].to_numpy() > left + ATOL)
    if not bad.any():
        return []
    shown = sessions.assign(joined_at=joined, left_at=left)
    return ["registration: a worker was online before joining or after leaving: "
            + examples(shown, bad, ["worker_id", "start", "end", "joined_at", "left_at"])]


def check_sessions(run: RunView) -> list[str]:
    """Violations of the session, registration and work-time invariants."""
    tasks, workers, n_workers = run.tasks, run.workers, run.n_workers
    sessions = run.sessions
    out = _session_intervals(sessions, n_workers, run.horizon) + _registration(sessions, workers)
    online = np.bincount(sessions["worker_id"].to_numpy(), minlength=n_workers,
                         weights=(sessions["end"] - sessions["start"]).to_numpy())[:n_workers]
    w_online = floats(workers["online_time"])
    out += worker_mismatch("offline: online_time != total length of the worker's sessions: ",
                           workers, ~close(w_online, online), "online_time", "sessions_length",
                           online)

    s_start, s_end = run.claim_session
    in_session = run.in_session
    located = tasks.assign(session_start=s_start, session_end=s_end)
    columns = [*TASK_COLUMNS, "session_start", "session_end"]
    bad = run.claimed & run.known & ~in_session
    if bad.any():
        out.append("offline: a task was claimed while its worker was offline: "
                   + examples(located, bad, columns))
    with np.errstate(invalid="ignore"):
        bad = in_session & ((run.started & (run.sta > s_end + ATOL))
                            | (run.completed & (run.com > s_end + ATOL)))
    if bad.any():
        out.append("offline: a task was worked on after its worker's session ended: "
                   + examples(located, bad, columns))

    known, wint = run.known, run.wint
    duration = run.work_end - run.sta
    paid_work = known & run.approved
    work = np.bincount(wint[paid_work], weights=duration[paid_work],
                       minlength=n_workers)[:n_workers]
    lost = known & (run.rejected | run.abandoned) & run.started & ~np.isnan(duration)
    unpaid_work = np.bincount(wint[lost], weights=duration[lost], minlength=n_workers)[:n_workers]
    w_work = floats(workers["work_time"])
    out += worker_mismatch("offline: work_time != time spent on the worker's approved tasks: ",
                           workers, ~close(w_work, work), "work_time", "from_tasks", work)
    wcols = ["worker_id", "online_time", "work_time", "unpaid_work_time"]
    if "unpaid_work_time" in workers:
        w_unpaid = floats(workers["unpaid_work_time"])
        out += worker_mismatch(
            "offline: unpaid_work_time != time spent on rejected and abandoned tasks: ",
            workers, ~close(w_unpaid, unpaid_work), "unpaid_work_time", "from_tasks",
            unpaid_work)
        bad = w_work + w_unpaid > w_online + ATOL + RTOL * w_online
        if bad.any():
            out.append("offline: work_time + unpaid_work_time > online_time: "
                       + examples(workers, bad, wcols))
    if "unpaid_time" in workers:
        bad = ~close(floats(workers["unpaid_time"]), w_online - w_work)
        if bad.any():
            out.append("offline: unpaid_time != online_time - work_time: "
                       + examples(workers, bad, [*wcols, "unpaid_time"]))
    return out
