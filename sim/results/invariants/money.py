"""Money is conserved: what requesters pay for approved work equals worker pay plus platform
fees; pay equals earnings overall and per worker; ``withheld`` follows the payout threshold."""

from __future__ import annotations

import numpy as np

from sim.results.invariants.view import RunView, close, examples, floats, worker_mismatch


def check_money(run: RunView) -> list[str]:
    """Violations of the money invariants."""
    paid, fee, workers, n_workers = run.paid, run.fee, run.workers, run.n_workers
    out: list[str] = []
    requester_pay = float(np.sum(run.reward[run.approved]) * (1 + run.commission))
    if not close(float(np.sum(paid) + np.sum(fee)), requester_pay):
        out.append(
            f"money: worker pay + fees ({np.sum(paid) + np.sum(fee):.6f}) != what requesters pay"
            f" for approved work ({requester_pay:.6f})"
        )
    earnings = floats(workers["earnings"])
    if not close(float(np.sum(paid)), float(np.sum(earnings))):
        out.append(f"money: total paid to tasks ({np.sum(paid):.6f}) != total worker earnings"
                   f" ({np.sum(earnings):.6f})")
    known = run.known
    per_worker_paid = np.bincount(run.wint[known], weights=paid[known],
                                  minlength=n_workers)[:n_workers]
    out += worker_mismatch("money: a worker's earnings != the sum paid for its tasks: ",
                           workers, ~close(per_worker_paid, earnings), "earnings",
                           "paid_for_tasks", per_worker_paid)
    if "withheld" in workers:
        threshold = run.scenario.platform.payout_threshold
        expected = np.where(earnings < threshold, earnings, 0.0)
        bad = ~close(floats(workers["withheld"]), expected)
        if bad.any():
            out.append(f"money: withheld must be the earnings below the payout threshold"
                       f" ({threshold}): "
                       + examples(workers, bad, ["worker_id", "earnings", "withheld"]))
    return out
