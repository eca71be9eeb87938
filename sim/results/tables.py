"""The tidy tables of a run, built once from the core's records (docs/results-contract.md).

``tasks``: one row per task posted; ``workers``: one row per registered worker, zero earners
included, with time and pay accounting (when supply adapts, also the workers who joined
during the run, with ``joined_at`` and ``left_at``); ``sessions``: one row per time a worker
was online. Every row carries the run's identity columns (run id, seed,
variant, replication).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.core.records import RunRecords
from sim.core.status import ABANDONED, APPROVED, REJECTED, STATUS_NAMES
from sim.foundation.units import HOUR, WEEK
from sim.scenario.schema import Scenario

TABLES = ("tasks", "workers", "sessions", "registrations")
"""The tables a run result saves and loads (``registrations`` only in markets of several
platforms)."""


def _with_identity(df: pd.DataFrame, identity: dict[str, Any]) -> pd.DataFrame:
    for key, value in identity.items():
        df[key] = value
    return df


def task_table(rec: RunRecords, scn: Scenario, identity: dict[str, Any]) -> pd.DataFrame:
    """One row per task with the columns of the results contract."""
    worker = rec.task_worker
    claimed = worker >= 0
    profile = np.where(claimed, rec.worker_profile[np.maximum(worker, 0)], -1)
    status = rec.task_status
    paid = np.where(status == APPROVED, rec.task_reward, 0.0)
    # wrapped, not copied (copy=False): at full market size a copy of every column is
    # gigabytes; nothing writes to these arrays afterwards
    df = pd.DataFrame(
        {
            "task_id": np.arange(rec.n_tasks, dtype=np.int64),
            "batch_id": rec.task_batch.astype(np.int64),
            "requester_id": rec.task_requester.astype(np.int64),
            "task_type": pd.Categorical.from_codes(rec.task_type, rec.type_names),
            "region": _text(rec.task_region, rec.region_names),
            "reward": rec.task_reward,
            "fee": paid * _per_platform(scn, "commission")[_task_platform(rec)],
            "effort": rec.task_effort,
            "released_at": rec.task_released,
            "expires_at": rec.task_expires,
            "claimed_at": rec.task_claimed,
            "started_at": rec.task_started,
            "completed_at": rec.task_completed,
            "worker_id": pd.array(np.where(claimed, worker, 0), dtype="Int64"),
            "winner_profile": pd.Categorical.from_codes(profile, rec.profile_names),
            "status": pd.Categorical.from_codes(status, list(STATUS_NAMES)),
            "paid": paid,
        },
        copy=False,
    )
    df.loc[~claimed, "worker_id"] = pd.NA
    if rec.platform_names is not None:
        df.insert(1, "platform", pd.Categorical.from_codes(rec.task_platform, rec.platform_names))
    return _with_identity(df, identity)


def _text(codes: np.ndarray, names: list[str]) -> pd.Series:
    """A text column (pandas' string dtype) of ``names[code]``, missing where ``code`` < 0:
    decoded by Arrow from the codes, with no Python string per row (a full-size market has
    millions of tasks); the same column as building it from an array of names."""
    codes = np.asarray(codes)
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                          pa.array(names, pa.string())).cast(pa.string()
                                                                             ).to_pandas()


def _task_platform(rec: RunRecords) -> np.ndarray | int:
    return 0 if rec.task_platform is None else rec.task_platform


def _per_platform(scn: Scenario, lever: str) -> np.ndarray:
    """A lever of ``platform`` per platform of the market (index = platform)."""
    return np.array([getattr(m.platform, lever) for m in scn.market()], dtype=float)


def _registration_withheld(rec: RunRecords, scn: Scenario) -> np.ndarray:
    """Per registration, what its platform withholds: the earnings there below that
    platform's payout threshold."""
    threshold = _per_platform(scn, "payout_threshold")[rec.member_platform]
    return np.where(rec.member_earnings < threshold, rec.member_earnings, 0.0)


def registration_table(rec: RunRecords, scn: Scenario, identity: dict[str, Any]
                       ) -> pd.DataFrame | None:
    """Markets of several platforms: one row per worker and platform it is registered on, with
    what it claimed and earned there and what that platform withholds (its payout
    threshold applies to its own earnings); None with one platform."""
    if rec.platform_names is None:
        return None
    df = pd.DataFrame({
        "worker_id": rec.member_worker.astype(np.int64),
        "platform": pd.Categorical.from_codes(rec.member_platform, rec.platform_names),
        "profile": pd.Categorical.from_codes(rec.worker_profile[rec.member_worker],
                                             rec.profile_names),
        "tasks_claimed": rec.member_claims.astype(np.int64),
        "earnings": rec.member_earnings,
        "withheld": _registration_withheld(rec, scn),
    })
    return _with_identity(df, identity)


def worker_table(rec: RunRecords, scn: Scenario, identity: dict[str, Any]) -> pd.DataFrame:
    """One row per registered worker (zero earners included) with time and pay accounting."""
    n = rec.n_workers
    online = np.bincount(rec.session_worker, weights=rec.session_end - rec.session_start,
                         minlength=n)
    worker, status = rec.task_worker, rec.task_status

    def count(code: int | None = None) -> np.ndarray:
        sel = worker >= 0 if code is None else (worker >= 0) & (status == code)
        return np.bincount(worker[sel], minlength=n).astype(np.int64)

    earnings, work = rec.worker_earnings, rec.worker_work_time
    with np.errstate(divide="ignore", invalid="ignore"):
        hourly_paid = np.where(work > 0, earnings / (work / HOUR), np.nan)
        hourly_effective = np.where(online > 0, earnings / (online / HOUR), np.nan)
    df = pd.DataFrame(
        {
            "worker_id": np.arange(n, dtype=np.int64),
            "profile": pd.Categorical.from_codes(rec.worker_profile, rec.profile_names),
            "region": _text(rec.worker_region, rec.region_names),
            "discovery": pd.Categorical.from_codes(rec.worker_discovery, rec.discovery_modes),
            "speed": rec.worker_speed,
            "rejection_probability": rec.worker_rejection,
            "reservation_pay": rec.worker_reservation,
            "sessions": np.bincount(rec.session_worker, minlength=n).astype(np.int64),
            "active_weeks": _active_weeks(rec, scn.horizon),
            "online_time": online,
            "work_time": work,
            "unpaid_work_time": rec.worker_unpaid_work,
            "unpaid_time": online - work,
            "earnings": earnings,
            "withheld": _withheld(rec, scn),
            "tasks_claimed": count(),
            "tasks_approved": count(APPROVED),
            "tasks_rejected": count(REJECTED),
            "tasks_abandoned": count(ABANDONED),
            "hourly_paid": hourly_paid,
            "hourly_effective": hourly_effective,
        }
    )
    if rec.worker_joined is not None:  # supply adapts: when each worker came and left
        df["joined_at"] = rec.worker_joined
        df["left_at"] = rec.worker_left
    return _with_identity(df, identity)


def _withheld(rec: RunRecords, scn: Scenario) -> np.ndarray:
    """Per worker, the earnings not paid out: below the payout threshold (of each platform,
    on that platform's earnings, in a market of several)."""
    earnings = rec.worker_earnings
    if rec.platform_names is None:
        return np.where(earnings < scn.platform.payout_threshold, earnings, 0.0)
    return np.bincount(rec.member_worker, weights=_registration_withheld(rec, scn),
                       minlength=rec.n_workers)


def session_table(rec: RunRecords, identity: dict[str, Any]) -> pd.DataFrame:
    """One row per session: ``worker_id``, ``start``, ``end`` (seconds), sorted by worker and
    start; with fixed supply the planned sessions, when supply adapts those that happened."""
    df = pd.DataFrame({"worker_id": rec.session_worker.astype(np.int64),
                       "start": rec.session_start, "end": rec.session_end})
    return _with_identity(df, identity)


def _active_weeks(rec: RunRecords, horizon: float) -> np.ndarray:
    """Number of complete 7-day weeks of the horizon in which each worker started a session."""
    week = rec.session_start // WEEK
    inside = week < horizon // WEEK
    pairs = np.unique(rec.session_worker[inside] * 10_000 + week[inside].astype(np.int64))
    return np.bincount(pairs // 10_000, minlength=rec.n_workers).astype(np.int64)
