"""One task at a time, and the caps: a worker's work intervals ``[started_at, end)`` do not
overlap (``end`` the completion, or the session end for work abandoned in progress), across
all its platforms; when it claims a task it holds at most that platform's ``max_claimed``
claimed, unfinished tasks (counting those of every platform), and it makes at most a
platform's ``daily_cap`` claims there in a calendar day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.foundation.units import DAY
from sim.results.invariants.view import ATOL, TASK_COLUMNS, RunView, examples


def _max_concurrency(worker: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per interval ``[begin, end)``: how many intervals of the same worker are open just after
    it begins (itself included). Ends at a time are processed before begins at that time."""
    k = len(worker)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    ew = np.concatenate([worker, worker])
    et = np.concatenate([begin, end])
    delta = np.concatenate([np.ones(k, np.int64), -np.ones(k, np.int64)])
    order = np.lexsort((delta, et, ew))  # by worker, time, then -1 before +1
    ew, delta = ew[order], delta[order]
    level = np.cumsum(delta)
    first = np.ones(len(ew), dtype=bool)
    first[1:] = ew[1:] != ew[:-1]
    base = np.maximum.accumulate(np.where(first, np.arange(len(ew)), 0))
    before = np.concatenate([[0], level])[base]  # running total before this worker's events
    level = level - before
    out = np.empty(2 * k, dtype=np.int64)
    out[order] = level
    return out[:k]


def _daily_cap(worker: np.ndarray, claimed_at: np.ndarray, cap: int) -> list[str]:
    """At most ``cap`` claims per worker and calendar day. A claim at exactly midnight may
    have been made just before or just after the reset, so it is counted in either day and
    only a worker-day over the cap both ways is a violation."""
    counts = []
    for shift in (0.0, ATOL):
        day = np.floor((claimed_at - shift) / DAY).astype(np.int64)
        index = pd.MultiIndex.from_arrays([worker, day], names=["worker_id", "day"])
        counts.append(pd.Series(1, index=index).groupby(level=[0, 1]).sum())
    both = pd.concat(counts, axis=1).fillna(0).min(axis=1)
    over = both[both > cap]
    if not len(over):
        return []
    (w0, d0), n0 = over.index[0], int(over.iloc[0])
    return [f"daily cap: {len(over)} worker-days with more than {cap} claims,"
            f" e.g. worker_id={w0} day={d0} claims={n0}"]


def check_concurrency(run: RunView) -> list[str]:
    """Violations of one task at a time, ``max_claimed`` and ``daily_cap``."""
    tasks, known, wint, sta, work_end = run.tasks, run.known, run.wint, run.sta, run.work_end
    market = run.scenario.market()
    out: list[str] = []
    idx = np.flatnonzero(known & run.started & ~np.isnan(work_end))
    order = idx[np.lexsort((sta[idx], wint[idx]))]
    same = wint[order][1:] == wint[order][:-1]
    overlap = same & (sta[order][1:] < work_end[order][:-1] - ATOL)
    if overlap.any():
        mask = np.zeros(len(tasks), dtype=bool)
        mask[order[1:][overlap]] = True
        out.append("one task at a time: a task started before the worker's previous task ended: "
                   + examples(tasks, mask, TASK_COLUMNS))
    idx = np.flatnonzero(known & run.claimed & ~np.isnan(work_end))
    limit = np.array([m.platform.max_claimed for m in market])[run.platform[idx]]
    over = _max_concurrency(wint[idx], run.cla[idx], work_end[idx]) > limit
    if over.any():
        mask = np.zeros(len(tasks), dtype=bool)
        mask[idx[over]] = True
        out.append("one task at a time: a worker claimed a task holding more unfinished tasks "
                   "than the platform's max_claimed: " + examples(tasks, mask, TASK_COLUMNS))
    for i, m in enumerate(market):
        if m.platform.daily_cap is not None and known.any():
            held = known & run.claimed & (run.platform == i)
            out += _daily_cap(wint[held], run.cla[held], m.platform.daily_cap)
    return out
