"""Time order: ``0 <= released_at <= claimed_at <= started_at <= completed_at <= horizon`` and
``claimed_at <= expires_at``, wherever both times are set."""

from __future__ import annotations

import numpy as np

from sim.results.invariants.view import ATOL, TASK_COLUMNS, RunView, examples


def _before(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a < b`` beyond the tolerance, where both are set."""
    with np.errstate(invalid="ignore"):
        return a < b - ATOL


def check_times(run: RunView) -> list[str]:
    """Violations of the time-order invariants."""
    rel, cla, sta, com, horizon = run.rel, run.cla, run.sta, run.com, run.horizon
    end = np.full(len(rel), horizon)
    orders = [
        ("0 <= released_at < horizon", (rel < -ATOL) | ~(rel < horizon + ATOL)),
        ("released_at <= claimed_at", _before(cla, rel)),
        ("claimed_at <= started_at", _before(sta, cla)),
        ("started_at <= completed_at", _before(com, sta)),
        ("completed_at <= horizon", _before(end, com)),
        ("claimed_at <= horizon", _before(end, cla)),
        ("claimed_at <= expires_at", _before(run.exp, cla)),
    ]
    return [f"times: {what}: " + examples(run.tasks, bad, TASK_COLUMNS)
            for what, bad in orders if bad.any()]
