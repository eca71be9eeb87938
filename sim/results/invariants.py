"""Invariants every run must satisfy, checked on its result tables (DESIGN.md, "Validation").

:func:`check` returns a list of human-readable violations (empty when everything holds);
:func:`assert_ok` raises ``AssertionError`` listing them. Checks are vectorised over the
tables of ``docs/results-contract.md``:

* **claims** — task ids unique; a task is claimed at most once, and a claimed task has a
  worker (``claimed_at`` set ⇔ ``worker_id`` set); per-worker claim counters match the tasks;
  a worker only claims tasks it is eligible for (task types of its profile, region).
* **one task at a time** — per worker, the work intervals ``[started_at, end)`` do not overlap
  (``end`` = ``completed_at``, or the end of the session for work abandoned in progress), and a
  worker never holds more than ``platform.max_claimed`` claimed, unfinished tasks; at most
  ``platform.daily_cap`` claims per worker per calendar day.
* **nobody works while offline** — every claim, start and completion lies in one session of
  the worker; ``online_time`` is the total length of its sessions; ``work_time`` is the time
  spent on approved tasks and ``unpaid_work_time`` the time spent on rejected and abandoned
  ones; ``work_time + unpaid_work_time <= online_time``.
* **money is conserved** — what requesters pay (``Σ reward·(1 + commission)`` over approved
  tasks) equals worker pay plus platform fees (``Σ paid + Σ fee``); ``Σ paid = Σ earnings``
  overall and per worker; ``withheld`` follows the payout threshold.
* **times are ordered** — ``0 <= released_at <= claimed_at <= started_at <= completed_at <=
  horizon`` and ``claimed_at <= expires_at``.
* **status is consistent** — approved ⇒ ``paid == reward``, otherwise ``paid == 0``;
  approved/rejected ⇒ completed; abandoned ⇒ claimed, not completed; open/expired ⇒ never
  claimed; expired ⇒ ``expires_at <= horizon``; open ⇒ ``expires_at >= horizon``.

Session intervals: a :class:`~sim.results.RunResult` with a ``sessions`` table (columns
``worker_id``, ``start`` or ``started_at``, ``end`` or ``ended_at``) is used as is; otherwise
the sessions are rebuilt from the run's scenario and seed with
:func:`sim.population.build_population`, which draws them from their own named streams (same
seed, same sessions, whatever the platform did).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.core.population import build_population
from sim.foundation.streams import Streams
from sim.foundation.units import DAY

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


def _examples(frame: pd.DataFrame, mask: np.ndarray | pd.Series, cols: list[str]) -> str:
    """Count and first offending rows of ``frame`` where ``mask`` holds, for a message."""
    mask = np.asarray(mask, dtype=bool)
    rows = frame.loc[mask, cols].head(EXAMPLES)
    shown = "; ".join(
        ", ".join(f"{c}={v!r}" if isinstance(v, str) else f"{c}={v}" for c, v in row.items())
        for row in rows.to_dict("records")
    )
    return f"{int(mask.sum())} rows, e.g. {shown}"


def _close(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    return np.isclose(a, b, rtol=RTOL, atol=ATOL)


def _float(series: pd.Series) -> np.ndarray:
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
    t = _float(times)
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


def _check_sessions(sessions: pd.DataFrame, n_workers: int, horizon: float) -> list[str]:
    out = []
    s, e = sessions["start"].to_numpy(), sessions["end"].to_numpy()
    w = sessions["worker_id"].to_numpy()
    bad = (s < -ATOL) | (e > horizon + ATOL) | ~(e > s) | (w < 0) | (w >= n_workers)
    if bad.any():
        out.append(
            "sessions: a session must lie in [0, horizon] with start < end and a known worker: "
            + _examples(sessions, bad, ["worker_id", "start", "end"])
        )
    same = np.zeros(len(w), dtype=bool)
    same[1:] = w[1:] == w[:-1]
    overlap = np.zeros(len(w), dtype=bool)
    overlap[1:] = same[1:] & (s[1:] < e[:-1] - ATOL)
    if overlap.any():
        out.append(
            "sessions: sessions of one worker overlap: "
            + _examples(sessions, overlap, ["worker_id", "start", "end"])
        )
    return out


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


def check(result: RunResult) -> list[str]:
    """Check every invariant of a run; return the violations (empty list when all hold).

    Each message names the invariant and quotes a few offending rows.
    """
    tasks, workers = result.tasks, result.workers
    scn = result.scenario
    horizon = float(result.horizon)
    commission = scn.platform.commission
    out: list[str] = []

    # ---------------------------------------------------------------- identities and claims
    if not tasks["task_id"].is_unique:
        out.append("claims: task_id is not unique (a task appears more than once)")
    if not workers["worker_id"].is_unique:
        out.append("workers: worker_id is not unique")
    n_workers = len(workers)
    if not np.array_equal(workers["worker_id"].to_numpy(), np.arange(n_workers)):
        out.append("workers: worker_id must be 0..n-1 in order (one row per registered worker)")

    status = tasks["status"].astype(str).to_numpy()
    unknown = ~np.isin(status, STATUSES)
    if unknown.any():
        out.append(f"status: unknown status: {_examples(tasks, unknown, ['task_id', 'status'])}")
    rel, exp = _float(tasks["released_at"]), _float(tasks["expires_at"])
    cla, sta, com = (_float(tasks[c]) for c in ("claimed_at", "started_at", "completed_at"))
    wid = tasks["worker_id"].to_numpy(dtype=float, na_value=np.nan)
    reward, paid = _float(tasks["reward"]), _float(tasks["paid"])
    fee = _float(tasks["fee"]) if "fee" in tasks else paid * commission
    claimed = ~np.isnan(cla)
    has_worker = ~np.isnan(wid)
    tcols = ["task_id", "status", "worker_id", "released_at", "claimed_at", "started_at",
             "completed_at", "expires_at"]

    bad = claimed != has_worker
    if bad.any():
        out.append("claims: claimed_at and worker_id must be set together: "
                   + _examples(tasks, bad, tcols))
    bad = has_worker & ((wid < 0) | (wid >= n_workers))
    if bad.any():
        out.append("claims: worker_id is not a registered worker: " + _examples(tasks, bad, tcols))
    known = has_worker & ~bad
    wint = np.where(known, wid, 0).astype(np.int64)

    if "winner_profile" in tasks:
        wp = tasks["winner_profile"].astype(object).to_numpy()
        prof = workers["profile"].astype(str).to_numpy()
        bad = known & (wp != prof[wint])
        bad |= ~has_worker & pd.notna(wp)
        if bad.any():
            out.append("claims: winner_profile is not the profile of worker_id: "
                       + _examples(tasks, bad, ["task_id", "worker_id", "winner_profile"]))

    # eligibility: task types of the profile and region of regional tasks
    prof_names = workers["profile"].astype(str).to_numpy()
    types = tasks["task_type"].astype(str).to_numpy()
    accepted = {name: p.task_types for name, p in scn.profiles.items()}
    bad = np.zeros(len(tasks), dtype=bool)
    for name, allowed in accepted.items():
        if allowed is not None:
            bad |= known & (prof_names[wint] == name) & ~np.isin(types, allowed)
    if bad.any():
        out.append("claims: a worker claimed a task type its profile does not accept: "
                   + _examples(tasks, bad, ["task_id", "task_type", "worker_id"]))
    if "region" in tasks and "region" in workers:
        t_region = tasks["region"].astype(object).to_numpy()
        w_region = workers["region"].astype(object).to_numpy()
        regional = known & pd.notna(t_region)
        bad = regional & (t_region != w_region[wint])
        if bad.any():
            out.append("claims: a regional task was claimed by a worker of another region: "
                       + _examples(tasks, bad, ["task_id", "region", "worker_id"]))

    # ------------------------------------------------------------------ status consistency
    approved, rejected = status == "approved", status == "rejected"
    abandoned, opened, expired = status == "abandoned", status == "open", status == "expired"
    started, completed = ~np.isnan(sta), ~np.isnan(com)
    rules = [
        ("approved/rejected tasks must be claimed, started and completed",
         (approved | rejected) & ~(claimed & started & completed)),
        ("abandoned tasks must be claimed and not completed", abandoned & ~(claimed & ~completed)),
        ("open tasks must never have been claimed", opened & (claimed | started | completed)),
        ("expired tasks must never have been claimed", expired & (claimed | started | completed)),
        ("expired tasks must have expires_at <= horizon", expired & ~(exp <= horizon + ATOL)),
        ("open tasks must not have passed their expiry", opened & (exp < horizon - ATOL)),
        ("approved tasks are paid their reward", approved & ~_close(paid, reward)),
        ("only approved tasks are paid", ~approved & (paid != 0)),
        ("fee = paid * commission", ~_close(fee, paid * commission)),
        ("a started task must be claimed, a completed task started",
         (started & ~claimed) | (completed & ~started)),
    ]
    for what, bad in rules:
        if bad.any():
            out.append(f"status: {what}: " + _examples(tasks, bad, [*tcols, "reward", "paid"]))

    # ------------------------------------------------------------------------ time order
    def later(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # a < b where both are set
        with np.errstate(invalid="ignore"):
            return a < b - ATOL

    orders = [
        ("0 <= released_at < horizon", (rel < -ATOL) | ~(rel < horizon + ATOL)),
        ("released_at <= claimed_at", later(cla, rel)),
        ("claimed_at <= started_at", later(sta, cla)),
        ("started_at <= completed_at", later(com, sta)),
        ("completed_at <= horizon", later(np.full(len(com), horizon), com)),
        ("claimed_at <= horizon", later(np.full(len(cla), horizon), cla)),
        ("claimed_at <= expires_at", later(exp, cla)),
    ]
    for what, bad in orders:
        if bad.any():
            out.append(f"times: {what}: " + _examples(tasks, bad, tcols))

    # ------------------------------------------------------------------------------ money
    requester_pay = float(np.sum(reward[approved]) * (1 + commission))
    if not _close(float(np.sum(paid) + np.sum(fee)), requester_pay):
        out.append(
            f"money: worker pay + fees ({np.sum(paid) + np.sum(fee):.6f}) != what requesters pay"
            f" for approved work ({requester_pay:.6f})"
        )
    earnings = _float(workers["earnings"])
    if not _close(float(np.sum(paid)), float(np.sum(earnings))):
        out.append(f"money: total paid to tasks ({np.sum(paid):.6f}) != total worker earnings"
                   f" ({np.sum(earnings):.6f})")
    per_worker_paid = np.bincount(wint[known], weights=paid[known], minlength=n_workers)
    bad = ~_close(per_worker_paid[:n_workers], earnings)
    if bad.any():
        out.append("money: a worker's earnings != the sum paid for its tasks: "
                   + _examples(workers.assign(paid_for_tasks=per_worker_paid[:n_workers]), bad,
                               ["worker_id", "earnings", "paid_for_tasks"]))
    if "withheld" in workers:
        threshold = scn.platform.payout_threshold
        expected = np.where(earnings < threshold, earnings, 0.0)
        bad = ~_close(_float(workers["withheld"]), expected)
        if bad.any():
            out.append(f"money: withheld must be the earnings below the payout threshold"
                       f" ({threshold}): "
                       + _examples(workers, bad, ["worker_id", "earnings", "withheld"]))

    # per-worker counters
    counters = [("tasks_claimed", known), ("tasks_approved", known & approved),
                ("tasks_rejected", known & rejected), ("tasks_abandoned", known & abandoned)]
    for col, sel in counters:
        if col in workers:
            counted = np.bincount(wint[sel], minlength=n_workers)[:n_workers]
            bad = workers[col].to_numpy() != counted
            if bad.any():
                out.append(f"claims: workers.{col} does not match the tasks table: "
                           + _examples(workers.assign(from_tasks=counted), bad,
                                       ["worker_id", col, "from_tasks"]))

    # ------------------------------------------------------------ sessions and work time
    sessions = session_table(result)
    out += _check_sessions(sessions, n_workers, horizon)
    online = np.bincount(sessions["worker_id"].to_numpy(), minlength=n_workers,
                         weights=(sessions["end"] - sessions["start"]).to_numpy())[:n_workers]
    w_online = _float(workers["online_time"])
    wcols = ["worker_id", "online_time", "work_time", "unpaid_work_time"]
    bad = ~_close(w_online, online)
    if bad.any():
        out.append("offline: online_time != total length of the worker's sessions: "
                   + _examples(workers.assign(sessions_length=online), bad,
                               ["worker_id", "online_time", "sessions_length"]))
    s_start, s_end = _session_of(tasks["claimed_at"], tasks["worker_id"], sessions)
    in_session = claimed & known & (cla >= s_start - ATOL) & (cla <= s_end + ATOL)
    bad = claimed & known & ~in_session
    if bad.any():
        out.append("offline: a task was claimed while its worker was offline: "
                   + _examples(tasks.assign(session_start=s_start, session_end=s_end), bad,
                               [*tcols, "session_start", "session_end"]))
    with np.errstate(invalid="ignore"):
        bad = in_session & ((started & (sta > s_end + ATOL)) | (completed & (com > s_end + ATOL)))
    if bad.any():
        out.append("offline: a task was worked on after its worker's session ended: "
                   + _examples(tasks.assign(session_start=s_start, session_end=s_end), bad,
                               [*tcols, "session_start", "session_end"]))

    # end of work / of holding: completion, or the session end for abandoned tasks
    work_end = np.where(completed, com, np.where(abandoned & in_session, s_end, np.nan))
    duration = work_end - sta
    work = np.bincount(wint[known & approved], weights=duration[known & approved],
                       minlength=n_workers)[:n_workers]
    lost = known & (rejected | abandoned) & started & ~np.isnan(duration)
    unpaid_work = np.bincount(wint[lost], weights=duration[lost], minlength=n_workers)[:n_workers]
    w_work = _float(workers["work_time"])
    bad = ~_close(w_work, work)
    if bad.any():
        out.append("offline: work_time != time spent on the worker's approved tasks: "
                   + _examples(workers.assign(from_tasks=work), bad,
                               ["worker_id", "work_time", "from_tasks"]))
    if "unpaid_work_time" in workers:
        w_unpaid = _float(workers["unpaid_work_time"])
        bad = ~_close(w_unpaid, unpaid_work)
        if bad.any():
            out.append("offline: unpaid_work_time != time spent on rejected and abandoned tasks: "
                       + _examples(workers.assign(from_tasks=unpaid_work), bad,
                                   ["worker_id", "unpaid_work_time", "from_tasks"]))
        bad = w_work + w_unpaid > w_online + ATOL + RTOL * w_online
        if bad.any():
            out.append("offline: work_time + unpaid_work_time > online_time: "
                       + _examples(workers, bad, wcols))
    if "unpaid_time" in workers:
        bad = ~_close(_float(workers["unpaid_time"]), w_online - w_work)
        if bad.any():
            out.append("offline: unpaid_time != online_time - work_time: "
                       + _examples(workers, bad, [*wcols, "unpaid_time"]))

    # ------------------------------------------------------------- one task at a time
    busy = known & started & ~np.isnan(work_end)
    idx = np.flatnonzero(busy)
    order = idx[np.lexsort((sta[idx], wint[idx]))]
    same = wint[order][1:] == wint[order][:-1]
    overlap = same & (sta[order][1:] < work_end[order][:-1] - ATOL)
    if overlap.any():
        mask = np.zeros(len(tasks), dtype=bool)
        mask[order[1:][overlap]] = True
        out.append("one task at a time: a task started before the worker's previous task ended: "
                   + _examples(tasks, mask, tcols))
    # claimed but unfinished tasks held at once <= max_claimed
    hold_end = np.where(completed, com, np.where(abandoned & in_session, s_end, np.nan))
    held = known & claimed & ~np.isnan(hold_end)
    idx = np.flatnonzero(held)
    level = _max_concurrency(wint[idx], cla[idx], hold_end[idx])
    over = level > scn.platform.max_claimed
    if over.any():
        mask = np.zeros(len(tasks), dtype=bool)
        mask[idx[over]] = True
        out.append(f"one task at a time: a worker held more than max_claimed="
                   f"{scn.platform.max_claimed} unfinished tasks: " + _examples(tasks, mask, tcols))
    cap = scn.platform.daily_cap
    if cap is not None and known.any():
        out += _check_daily_cap(wint[known & claimed], cla[known & claimed], cap)
    return out


def _check_daily_cap(worker: np.ndarray, claimed_at: np.ndarray, cap: int) -> list[str]:
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


def assert_ok(result: RunResult) -> None:
    """Raise ``AssertionError`` listing every violated invariant of ``result``."""
    problems = check(result)
    if problems:
        raise AssertionError(
            f"{len(problems)} invariant(s) violated in run {getattr(result, 'seed', '?')}"
            f" of scenario {result.scenario.name!r}:\n  - " + "\n  - ".join(problems)
        )
