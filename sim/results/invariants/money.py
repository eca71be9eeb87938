"""Money is conserved: what requesters pay for approved work equals worker pay plus platform
fees; pay equals earnings overall and per worker; ``withheld`` follows the payout threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.results.invariants.view import RunView, close, examples, floats, worker_mismatch


def check_money(run: RunView) -> list[str]:
    """Violations of the money invariants."""
    paid, fee, workers, n_workers = run.paid, run.fee, run.workers, run.n_workers
    out: list[str] = []
    requester_pay = float(np.sum((run.reward * (1 + run.commission))[run.approved]))
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
    registrations = run.result.registrations
    if registrations is not None:  # several platforms: earnings there add up, per worker
        out += _per_platform(run, registrations, per_worker_paid)
    if "withheld" in workers and registrations is None:
        threshold = run.scenario.platform.payout_threshold
        expected = np.where(earnings < threshold, earnings, 0.0)
        bad = ~close(floats(workers["withheld"]), expected)
        if bad.any():
            out.append(f"money: withheld must be the earnings below the payout threshold"
                       f" ({threshold}): "
                       + examples(workers, bad, ["worker_id", "earnings", "withheld"]))
    return out


def _per_platform(run: RunView, registrations: pd.DataFrame, paid_by_worker: np.ndarray
                  ) -> list[str]:
    """A worker's earnings on each platform are what that platform paid for its tasks; they
    add up to its earnings; each platform withholds what is below its own threshold."""
    out: list[str] = []
    known = run.known
    names = list(registrations["platform"].cat.categories)
    worker = registrations["worker_id"].to_numpy(dtype=np.int64)
    platform = registrations["platform"].cat.codes.to_numpy()
    key = worker * len(names) + platform
    pairs = run.wint[known] * len(names) + run.platform[known]
    paid = np.bincount(pairs, weights=run.paid[known], minlength=run.n_workers * len(names))
    earned = floats(registrations["earnings"])
    bad = ~close(paid[key], earned)
    if bad.any():
        out.append("money: a worker's earnings on a platform != what that platform paid for its "
                   "tasks: " + examples(registrations, bad, ["worker_id", "platform",
                                                              "earnings"]))
    outside = np.ones(len(paid), dtype=bool)
    outside[key] = False
    if np.any(paid[outside] > 0):
        out.append("money: a worker was paid by a platform it is not registered on")
    if not np.all(close(np.bincount(worker, weights=earned, minlength=run.n_workers),
                        paid_by_worker)):
        out.append("money: a worker's earnings on its platforms do not add up to its earnings")
    thresholds = np.array([m.platform.payout_threshold for m in run.scenario.market()])
    expected = np.bincount(worker, weights=np.where(earned < thresholds[platform], earned, 0.0),
                           minlength=run.n_workers)
    bad = ~close(floats(run.workers["withheld"]), expected)
    if bad.any():
        out.append("money: withheld must be the earnings below each platform's payout "
                   "threshold: " + examples(run.workers, bad, ["worker_id", "earnings",
                                                                "withheld"]))
    return out
