"""What the invariant checkers share: the run's tables as arrays, computed once.

A :class:`RunView` turns the ``tasks`` and ``workers`` tables of a run into the numpy arrays
and masks every checker reads (times, status masks, the worker of each claim) and, on first
use, the worker sessions and the session of each claim; :func:`examples` and :func:`close`
are the message and tolerance helpers of all checkers.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.core.population import build_population
from sim.foundation.streams import Streams

if TYPE_CHECKING:
    from sim.results.run_result import RunResult

#: absolute tolerance on times (s) and money; sums also get a relative tolerance
ATOL = 1e-6
RTOL = 1e-9
#: how many offending rows a message quotes
EXAMPLES = 3
STATUSES = ("approved", "rejected", "expired", "abandoned", "open")
#: accepted names of the start and end columns of a ``sessions`` table
START_COLUMNS = ("start", "started_at", "online_at")
END_COLUMNS = ("end", "ended_at", "offline_at")
#: task columns quoted by messages about a task's claim, times or status
TASK_COLUMNS = ["task_id", "status", "worker_id", "released_at", "claimed_at", "started_at",
                "completed_at", "expires_at"]


def examples(frame: pd.DataFrame, mask: np.ndarray | pd.Series, cols: list[str]) -> str:
    """Count and first offending rows of ``frame`` where ``mask`` holds, for a message."""
    mask = np.asarray(mask, dtype=bool)
    rows = frame.loc[mask, cols].head(EXAMPLES)
    shown = "; ".join(
        ", ".join(f"{c}={v!r}" if isinstance(v, str) else f"{c}={v}" for c, v in row.items())
        for row in rows.to_dict("records")
    )
    return f"{int(mask.sum())} rows, e.g. {shown}"


def worker_mismatch(message: str, workers: pd.DataFrame, bad: np.ndarray, column: str,
                    derived: str, values: np.ndarray) -> list[str]:
    """``[message + examples]`` when a worker column disagrees (``bad``) with ``values`` derived
    from the other tables, quoting both side by side (``derived`` names the values); ``[]``
    otherwise."""
    if not bad.any():
        return []
    return [message + examples(workers.assign(**{derived: values}), bad,
                               ["worker_id", column, derived])]


def close(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Equal within the invariants' tolerances (:data:`RTOL`, :data:`ATOL`)."""
    return np.isclose(a, b, rtol=RTOL, atol=ATOL)


def floats(series: pd.Series) -> np.ndarray:
    """A column as floats, NaN where missing."""
    return series.to_numpy(dtype=float, na_value=np.nan)


def session_table(result: RunResult) -> pd.DataFrame:
    """Session intervals of the run: ``worker_id, start, end`` sorted by worker and start.

    Uses ``result.sessions`` when the result carries one, otherwise rebuilds the sessions from
    the scenario and seed (the population is drawn from its own streams before the run).
    """
    sessions = getattr(result, "sessions", None)
    if isinstance(sessions, pd.DataFrame):
        start = next((c for c in START_COLUMNS if c in sessions), None)
        end = next((c for c in END_COLUMNS if c in sessions), None)
        if start is None or end is None or "worker_id" not in sessions:
            raise ValueError(
                f"sessions table needs worker_id, one of {START_COLUMNS} and one of"
                f" {END_COLUMNS}; got {list(sessions.columns)}"
            )
        frame = pd.DataFrame(
            {
                "worker_id": sessions["worker_id"].to_numpy(dtype=np.int64),
                "start": sessions[start].to_numpy(dtype=float),
                "end": sessions[end].to_numpy(dtype=float),
            }
        )
    else:
        pop = build_population(result.scenario, Streams(result.seed))
        frame = pd.DataFrame(
            {
                "worker_id": pop.session_worker.astype(np.int64),
                "start": pop.session_start.astype(float),
                "end": pop.session_end.astype(float),
            }
        )
    return frame.sort_values(["worker_id", "start"], kind="stable").reset_index(drop=True)


def _session_of(
    times: pd.Series, workers: pd.Series, sessions: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of the session of ``workers`` that began last at or before ``times``.

    Times are matched with a tolerance of ``ATOL``: SimPy's clock reaches a session start as a
    sum of delays, which may differ from the drawn start by a rounding error. NaN where the
    time is missing or the worker had no session starting by then.
    """
    t = floats(times)
    w = workers.to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(t) & ~np.isnan(w)
    start, end = np.full(len(t), np.nan), np.full(len(t), np.nan)
    if not ok.any() or sessions.empty:
        return start, end
    left = pd.DataFrame({"row": np.flatnonzero(ok), "worker_id": w[ok].astype(np.int64),
                         "t": t[ok] + ATOL}).sort_values("t", kind="stable")
    right = sessions.rename(columns={"start": "t"}).assign(start=lambda s: s["t"])
    right = right.sort_values("t", kind="stable")
    merged = pd.merge_asof(left, right, on="t", by="worker_id", direction="backward")
    rows = merged["row"].to_numpy()
    start[rows] = merged["start"].to_numpy(dtype=float)
    end[rows] = merged["end"].to_numpy(dtype=float)
    return start, end


class RunView:
    """The arrays of one run that the checkers read, each computed once.

    Task columns become float arrays (NaN where unset): ``rel``, ``exp``, ``cla``, ``sta``,
    ``com`` (released, expires, claimed, started, completed), ``wid`` (worker), ``reward``,
    ``paid``, ``fee``; masks ``claimed``, ``started``, ``completed``, one per status, and
    ``known`` (claimed by a registered worker, whose index is ``wint``, 0 elsewhere).
    """

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.tasks, self.workers, self.scenario = result.tasks, result.workers, result.scenario
        self.horizon = float(result.horizon)
        market = result.scenario.market()
        commission = np.array([m.platform.commission for m in market])
        self.n_workers = len(self.workers)
        tasks = self.tasks
        self.status = tasks["status"].astype(str).to_numpy()
        self.rel, self.exp = floats(tasks["released_at"]), floats(tasks["expires_at"])
        self.cla, self.sta, self.com = (
            floats(tasks[c]) for c in ("claimed_at", "started_at", "completed_at"))
        self.wid = tasks["worker_id"].to_numpy(dtype=float, na_value=np.nan)
        self.reward, self.paid = floats(tasks["reward"]), floats(tasks["paid"])
        # each task's platform's commission (one platform: the scenario's)
        self.platform = (tasks["platform"].cat.codes.to_numpy() if "platform" in tasks
                         else np.zeros(len(tasks), dtype=np.int64))
        self.commission = commission[self.platform]
        self.fee = floats(tasks["fee"]) if "fee" in tasks else self.paid * self.commission
        self.claimed, self.started, self.completed = (
            ~np.isnan(a) for a in (self.cla, self.sta, self.com))
        self.has_worker = ~np.isnan(self.wid)
        self.known = self.has_worker & (self.wid >= 0) & (self.wid < self.n_workers)
        self.wint = np.where(self.known, self.wid, 0).astype(np.int64)
        self.approved, self.rejected = self.status == "approved", self.status == "rejected"
        self.abandoned, self.opened = self.status == "abandoned", self.status == "open"
        self.expired = self.status == "expired"

    @cached_property
    def sessions(self) -> pd.DataFrame:
        """The run's sessions (:func:`session_table`)."""
        return session_table(self.result)

    @cached_property
    def claim_session(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of the session in which each task was claimed (NaN if none)."""
        return _session_of(self.tasks["claimed_at"], self.tasks["worker_id"], self.sessions)

    @cached_property
    def in_session(self) -> np.ndarray:
        """Claimed by a registered worker during one of its sessions."""
        s_start, s_end = self.claim_session
        return (self.claimed & self.known & (self.cla >= s_start - ATOL)
                & (self.cla <= s_end + ATOL))

    @cached_property
    def work_end(self) -> np.ndarray:
        """When work on (and the hold of) each task ended: its completion, or the end of the
        session for a task abandoned in progress; NaN otherwise."""
        abandoned_end = np.where(self.abandoned & self.in_session, self.claim_session[1], np.nan)
        return np.where(self.completed, self.com, abandoned_end)
