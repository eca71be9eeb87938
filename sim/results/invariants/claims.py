"""Claims and eligibility: ids unique, a claim has a registered worker, the worker may take
the task (task types of its profile, its region for a regional task), and the per-worker
claim counters match the tasks table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results.invariants.view import TASK_COLUMNS, RunView, examples, worker_mismatch


def check_claims(run: RunView) -> list[str]:
    """Violations of the identity, claim and eligibility invariants."""
    tasks, workers, n_workers = run.tasks, run.workers, run.n_workers
    known, wint = run.known, run.wint
    out: list[str] = []
    if not tasks["task_id"].is_unique:
        out.append("claims: task_id is not unique (a task appears more than once)")
    if not workers["worker_id"].is_unique:
        out.append("workers: worker_id is not unique")
    if not np.array_equal(workers["worker_id"].to_numpy(), np.arange(n_workers)):
        out.append("workers: worker_id must be 0..n-1 in order (one row per registered worker)")

    bad = run.claimed != run.has_worker
    if bad.any():
        out.append("claims: claimed_at and worker_id must be set together: "
                   + examples(tasks, bad, TASK_COLUMNS))
    bad = run.has_worker & ~known
    if bad.any():
        out.append("claims: worker_id is not a registered worker: "
                   + examples(tasks, bad, TASK_COLUMNS))

    if "winner_profile" in tasks:
        wp = tasks["winner_profile"].astype(object).to_numpy()
        prof = workers["profile"].astype(str).to_numpy()
        bad = known & (wp != prof[wint])
        bad |= ~run.has_worker & pd.notna(wp)
        if bad.any():
            out.append("claims: winner_profile is not the profile of worker_id: "
                       + examples(tasks, bad, ["task_id", "worker_id", "winner_profile"]))

    prof_names = workers["profile"].astype(str).to_numpy()
    types = tasks["task_type"].astype(str).to_numpy()
    bad = np.zeros(len(tasks), dtype=bool)
    for name, profile in run.scenario.profiles.items():
        if profile.task_types is not None:
            bad |= known & (prof_names[wint] == name) & ~np.isin(types, profile.task_types)
    if bad.any():
        out.append("claims: a worker claimed a task type its profile does not accept: "
                   + examples(tasks, bad, ["task_id", "task_type", "worker_id"]))
    if "region" in tasks and "region" in workers:
        t_region = tasks["region"].astype(object).to_numpy()
        w_region = workers["region"].astype(object).to_numpy()
        bad = known & pd.notna(t_region) & (t_region != w_region[wint])
        if bad.any():
            out.append("claims: a regional task was claimed by a worker of another region: "
                       + examples(tasks, bad, ["task_id", "region", "worker_id"]))

    counters = [("tasks_claimed", known), ("tasks_approved", known & run.approved),
                ("tasks_rejected", known & run.rejected),
                ("tasks_abandoned", known & run.abandoned)]
    for col, sel in counters:
        if col in workers:
            counted = np.bincount(wint[sel], minlength=n_workers)[:n_workers]
            out += worker_mismatch(f"claims: workers.{col} does not match the tasks table: ",
                                   workers, workers[col].to_numpy() != counted, col,
                                   "from_tasks", counted)
    return out
