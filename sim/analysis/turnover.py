"""Turnover of the workforce: exits, arrivals, tenure and survival, from the workers table of
a run whose supply adapts (columns ``joined_at`` and ``left_at``, inf while still registered).

Tenures are right-censored at the horizon (a worker still registered at the end has a tenure
of at least its time so far): survival is estimated with the Kaplan-Meier product-limit
estimator, and the exit rate as exits per worker-month at risk (the maximum-likelihood rate
of exponential tenures, whose half-life is ln 2 over that rate, as Difallah et al. 2018 report
for MTurk).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.foundation.units import MONTH

SURVIVAL_MONTHS = (3, 6, 12)
"""Months at which survival is reported (``survival_3m`` ...)."""
TURNOVER_KEYS = ("workers_joined", "workers_left", "registered_at_end", "monthly_exit_rate",
                 "worker_half_life_months", "arrivals_over_departures", "median_tenure_months",
                 *(f"survival_{m}m" for m in SURVIVAL_MONTHS), "left_within_first_month",
                 "earnings_share_always_active")
"""Summary keys of :func:`turnover_summary`, in order."""


def kaplan_meier(duration: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the survival function of ``duration`` (``observed`` False for
    censored values): the distinct event times and the survival just after each."""
    order = np.argsort(duration, kind="stable")
    duration, observed = duration[order], observed[order]
    times, first = np.unique(duration, return_index=True)
    at_risk = len(duration) - first
    events = np.add.reduceat(observed.astype(np.int64), first) if len(first) else first
    keep = events > 0
    survival = np.cumprod(1 - events[keep] / at_risk[keep])
    return times[keep], survival


def survival_at(times: np.ndarray, survival: np.ndarray, t: float, longest: float) -> float:
    """S(t) from a Kaplan-Meier estimate; NaN when nobody was followed that long."""
    if t > longest:
        return math.nan
    passed = np.searchsorted(times, t, side="right")
    return float(survival[passed - 1]) if passed else 1.0


def exit_rate(workers: pd.DataFrame, horizon: float) -> float:
    """Exits per worker-month at risk."""
    joined = workers["joined_at"].to_numpy(float)
    left = workers["left_at"].to_numpy(float)
    at_risk = (np.minimum(left, horizon) - joined).sum() / MONTH
    return float(np.isfinite(left).sum() / at_risk) if at_risk > 0 else math.nan


def turnover_summary(workers: pd.DataFrame, horizon: float,
                     always_active: np.ndarray | None = None) -> dict[str, float]:
    """The turnover metrics of :data:`TURNOVER_KEYS` (``always_active``: per worker, whether it
    was online in every month of the run, for the share of earnings those workers got), then
    ``monthly_exit_rate.<profile>`` for each profile."""
    joined = workers["joined_at"].to_numpy(float)
    left = workers["left_at"].to_numpy(float)
    gone = np.isfinite(left)
    tenure = np.minimum(left, horizon) - joined
    arrivals, exits = int((joined > 0).sum()), int(gone.sum())
    rate = exit_rate(workers, horizon)
    times, survival = kaplan_meier(tenure, gone)
    longest = float(tenure.max()) if len(tenure) else 0.0
    below = np.flatnonzero(survival <= 0.5)
    followed = joined <= horizon - MONTH  # could be seen for a whole first month
    earnings = workers["earnings"].to_numpy(float)
    total = earnings.sum()
    summary = {
        "workers_joined": float(arrivals),
        "workers_left": float(exits),
        "registered_at_end": float((~gone).sum()),
        "monthly_exit_rate": rate,
        "worker_half_life_months": math.log(2) / rate if rate > 0 else math.nan,
        "arrivals_over_departures": arrivals / exits if exits else math.nan,
        "median_tenure_months": float(times[below[0]] / MONTH) if len(below) else math.nan,
        **{f"survival_{m}m": survival_at(times, survival, m * MONTH, longest)
           for m in SURVIVAL_MONTHS},
        "left_within_first_month": (float((gone & (tenure < MONTH) & followed).sum()
                                          / followed.sum()) if followed.any() else math.nan),
        "earnings_share_always_active": (float(earnings[always_active].sum() / total)
                                         if always_active is not None and total > 0
                                         else math.nan),
    }
    for name, group in workers.groupby("profile", observed=True):
        summary[f"monthly_exit_rate.{name}"] = exit_rate(group, horizon)
    return summary
