"""The worker-month panel: one row per registered worker and 30-day month of the run.

Long runs with adaptive supply are read month by month: who was online how long, how much of
it was paid, what it earned, whether it was still on the platform. Months are the 30-day
periods from the start (the last one may be shorter: its ``days`` say so). A task counts in
the month it was completed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.foundation.units import DAY, MONTH


def worker_months(tasks: pd.DataFrame, workers: pd.DataFrame, sessions: pd.DataFrame,
                  horizon: float) -> pd.DataFrame:
    """Per worker and month: ``online_time`` and ``paid_time`` (seconds online, seconds on
    approved tasks), ``earnings``, ``tasks`` (completed, approved or rejected) and
    ``registered`` (on the platform at the month's end). Workers appear in the months from the
    one they joined in to the one they left in."""
    months = max(1, math.ceil(horizon / MONTH))
    n = len(workers)
    edges = np.minimum(np.arange(months + 1) * MONTH, horizon)
    start, end = sessions["start"].to_numpy(float), sessions["end"].to_numpy(float)
    who = sessions["worker_id"].to_numpy(np.int64)
    online = np.zeros((n, months))
    for k in range(months):  # a session's time in each month it spans
        overlap = np.clip(np.minimum(end, edges[k + 1]) - np.maximum(start, edges[k]), 0, None)
        online[:, k] = np.bincount(who, weights=overlap, minlength=n)
    done = tasks["status"].isin(["approved", "rejected"]).to_numpy()
    approved = (tasks["status"] == "approved").to_numpy()
    worker = tasks["worker_id"].to_numpy(dtype=float, na_value=np.nan)
    completed = tasks["completed_at"].to_numpy(float)
    month = np.minimum(np.floor(np.nan_to_num(completed) / MONTH), months - 1).astype(np.int64)
    cell = np.where(done, worker, 0).astype(np.int64) * months + month

    def total(weights: np.ndarray, sel: np.ndarray) -> np.ndarray:
        return np.bincount(cell[sel], weights=weights[sel], minlength=n * months).reshape(
            n, months)

    paid = total(completed - tasks["started_at"].to_numpy(float), approved)
    earnings = total(tasks["paid"].to_numpy(float), approved)
    count = total(np.ones(len(tasks)), done)
    joined = workers["joined_at"].to_numpy(float) if "joined_at" in workers else np.zeros(n)
    left = workers["left_at"].to_numpy(float) if "left_at" in workers else np.full(n, np.inf)
    month_start, month_end = edges[:-1][None, :], edges[1:][None, :]
    present = (joined[:, None] < month_end) & (left[:, None] >= month_start)
    rows, cols = np.nonzero(present)
    return pd.DataFrame({
        "worker_id": workers["worker_id"].to_numpy()[rows],
        "profile": workers["profile"].to_numpy()[rows],
        "month": cols.astype(np.int64),
        "days": ((edges[1:] - edges[:-1]) / DAY)[cols],
        "online_time": online[rows, cols],
        "paid_time": paid[rows, cols],
        "earnings": earnings[rows, cols],
        "tasks": count[rows, cols].astype(np.int64),
        "registered": left[rows] > edges[1:][cols],
    })
