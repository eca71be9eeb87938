"""Status consistency: each status has the claim, start, completion, expiry and pay it
implies (approved tasks paid their reward and only they, fees the commission on pay)."""

from __future__ import annotations

import numpy as np

from sim.results.invariants.view import ATOL, STATUSES, TASK_COLUMNS, RunView, close, examples


def check_status(run: RunView) -> list[str]:
    """Violations of the status invariants."""
    out: list[str] = []
    unknown = ~np.isin(run.status, STATUSES)
    if unknown.any():
        out.append(f"status: unknown status: {examples(run.tasks, unknown, ['task_id', 'status'])}")
    approved, rejected, abandoned = run.approved, run.rejected, run.abandoned
    opened, expired = run.opened, run.expired
    claimed, started, completed = run.claimed, run.started, run.completed
    rules = [
        ("approved/rejected tasks must be claimed, started and completed",
         (approved | rejected) & ~(claimed & started & completed)),
        ("abandoned tasks must be claimed and not completed", abandoned & ~(claimed & ~completed)),
        ("open tasks must never have been claimed", opened & (claimed | started | completed)),
        ("expired tasks must never have been claimed", expired & (claimed | started | completed)),
        ("expired tasks must have expires_at <= horizon",
         expired & ~(run.exp <= run.horizon + ATOL)),
        ("open tasks must not have passed their expiry", opened & (run.exp < run.horizon - ATOL)),
        ("approved tasks are paid their reward", approved & ~close(run.paid, run.reward)),
        ("only approved tasks are paid", ~approved & (run.paid != 0)),
        ("fee = paid * commission", ~close(run.fee, run.paid * run.commission)),
        ("a started task must be claimed, a completed task started",
         (started & ~claimed) | (completed & ~started)),
    ]
    for what, bad in rules:
        if bad.any():
            out.append(f"status: {what}: "
                       + examples(run.tasks, bad, [*TASK_COLUMNS, "reward", "paid"]))
    return out
