"""Calibration measures: named quantities computed from a run's tables, compared with the
published figures of ``calibration/targets.csv`` (see :mod:`sim.experiments.calibration`).

Every outcome a scenario is calibrated against is measured here from the run's own tables;
nothing published is ever written into the output. A measure is a pure function of the
tasks and workers tables and a small :class:`MeasureContext` (the run's horizon, scale and
number of requesters), registered by its function name in :data:`MEASURES`; a scenario's
``calibration.targets.<id>.measure`` names one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.metrics import median, quantile, top_share
from sim.analysis.turnover import exit_rate
from sim.foundation.units import HOUR, MONTH, WEEK

FTE_HOURS_PER_MONTH = 35 * 52 / 12  # French legal full-time week, per month (151.67 h)


@dataclass(frozen=True)
class MeasureContext:
    """What a measure needs to know of the run besides its tables."""

    horizon: float
    """Simulated seconds."""
    scale: float
    """The scenario's sampling fraction (figures of the whole market are divided by it)."""
    requesters: int
    """Number of requesters (those who posted nothing count too)."""


Measure = Callable[["MeasureContext", pd.DataFrame, pd.DataFrame], float]
MEASURES: dict[str, Measure] = {}


def measure(fn: Measure) -> Measure:
    """Register a measure under its function name."""
    MEASURES[fn.__name__] = fn
    return fn


def _active(workers: pd.DataFrame) -> pd.DataFrame:
    """Workers who were online at least once over the horizon (the surveys' respondents)."""
    return workers[workers["sessions"] > 0]


def _weekly_active(ctx: MeasureContext, workers: pd.DataFrame) -> pd.DataFrame:
    """Workers online in every complete week of the horizon (the surveys' very active)."""
    return workers[workers["active_weeks"] >= _complete_weeks(ctx)]


def _monthly_earnings(ctx: MeasureContext, workers: pd.DataFrame) -> pd.Series:
    return workers["earnings"] * MONTH / ctx.horizon


def _complete_weeks(ctx: MeasureContext) -> int:
    return int(ctx.horizon // WEEK)


@measure
def share_very_active(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Registered workers online in every complete week of the horizon (active weekly)."""
    return len(_weekly_active(ctx, workers)) / len(workers) if len(workers) else math.nan


@measure
def share_routine(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Registered workers online at least once over the horizon (a month) but not weekly."""
    online = workers["sessions"] > 0
    weekly = workers["active_weeks"] >= _complete_weeks(ctx)
    return float((online & ~weekly).mean())


@measure
def share_casual(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Registered workers never online over the horizon (active less than monthly)."""
    return float((workers["sessions"] == 0).mean())


@measure
def mean_monthly_income_active(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Mean monthly earnings of the workers online at least once (survey respondents)."""
    return float(_monthly_earnings(ctx, _active(workers)).mean())


@measure
def share_active_under_5(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Share of active workers earning under 5 (currency) a month."""
    return float((_monthly_earnings(ctx, _active(workers)) < 5).mean())


@measure
def share_active_over_10(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Share of active workers earning over 10 (currency) a month."""
    return float((_monthly_earnings(ctx, _active(workers)) > 10).mean())


@measure
def fte_jobs(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Full-time-equivalent jobs of the whole (unscaled) population: hours spent online
    micro-working (paid work plus unpaid searching) per month / 151.67 h, divided by scale."""
    hours = workers["online_time"].sum() / HOUR * MONTH / ctx.horizon
    return float(hours / FTE_HOURS_PER_MONTH / ctx.scale)


def _earners(workers: pd.DataFrame) -> pd.DataFrame:
    return workers[workers["tasks_approved"] > 0]


@measure
def median_hourly_effective(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Median over workers with approved work of earnings per hour online (unpaid included)."""
    return median(_earners(workers)["hourly_effective"])


@measure
def median_hourly_paid(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Median over workers with approved work of earnings per hour of paid work."""
    return median(_earners(workers)["hourly_paid"])


@measure
def share_hourly_effective_over_7_25(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Share of workers with approved work earning over 7.25 per hour online."""
    return float((_earners(workers)["hourly_effective"] > 7.25).mean())


@measure
def unpaid_share_of_time(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Unpaid time (searching, rejected and abandoned work) over time online, pooled."""
    active = _active(workers)
    return float(active["unpaid_time"].sum() / active["online_time"].sum())


@measure
def unpaid_minutes_per_paid_hour(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Minutes of unpaid time (searching, rejected and abandoned work) per hour of paid work,
    pooled over the workers online at least once (the ILO's 2018 survey figure; NaN when
    nobody did paid work)."""
    active = _active(workers)
    paid = active["work_time"].sum()
    return float(60 * active["unpaid_time"].sum() / paid) if paid > 0 else math.nan


@measure
def mean_hourly_paid(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Mean over workers with approved work of earnings per hour of paid work."""
    return float(_earners(workers)["hourly_paid"].mean())


@measure
def mean_hourly_effective(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Mean over workers with approved work of earnings per hour online."""
    return float(_earners(workers)["hourly_effective"].mean())


def _requester_value(tasks: pd.DataFrame) -> np.ndarray:
    return tasks.groupby("requester_id", observed=True)["reward"].sum().to_numpy()


@measure
def requester_top1_share(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Share of the value posted by the top 1 % of requesters (among all requesters)."""
    value = np.zeros(ctx.requesters)
    value[: len(_requester_value(tasks))] = np.sort(_requester_value(tasks))
    return top_share(value, 0.01)


@measure
def requester_top10_share(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Share of the value posted by the top 10 % of requesters (among all requesters)."""
    value = np.zeros(ctx.requesters)
    value[: len(_requester_value(tasks))] = np.sort(_requester_value(tasks))
    return top_share(value, 0.10)


@measure
def active_at_once(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Mean number of workers online at a moment, for the whole (unscaled) population."""
    return float(workers["online_time"].sum() / ctx.horizon / ctx.scale)


@measure
def top20_share_of_tasks(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Share of the tasks done by the most active 20 % of the workers who did any."""
    done = (workers["tasks_approved"] + workers["tasks_rejected"]).to_numpy()
    return top_share(done[done > 0], 0.20)


@measure
def modal_reward(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Most frequent reward among posted tasks (NaN when none was posted)."""
    modes = tasks["reward"].round(2).mode()
    return float(modes.iloc[0]) if len(modes) else math.nan


@measure
def median_mission_pay(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Median reward of the regional (in-store) tasks."""
    return median(tasks.loc[tasks["region"].notna(), "reward"])


@measure
def missions_per_active_user(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Approved tasks per active worker per 30 days."""
    active = _active(workers)
    return float(active["tasks_approved"].mean() * MONTH / ctx.horizon)


@measure
def monthly_earnings_p90_weekly_active(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """90th percentile of the monthly earnings of the workers online in every complete week:
    what a regular micro-worker "can reach" (the seed article's about a hundred euros)."""
    return quantile(_monthly_earnings(ctx, _weekly_active(ctx, workers)), 0.9)


@measure
def monthly_earnings_p99_active(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """99th percentile of the monthly earnings of the workers online at least once: the most
    active workers' month (the press cases' 200 to 300 EUR in a good month)."""
    return quantile(_monthly_earnings(ctx, _active(workers)), 0.99)


@measure
def max_monthly_earnings(ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame) -> float:
    """Highest monthly earnings of any worker (a cap shows here)."""
    return float(_monthly_earnings(ctx, workers).max())


@measure
def worker_half_life_months(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Half-life of a worker's presence: ln 2 over the exits per worker-month at risk
    (Difallah et al. 2018's measure, for exponential tenures); NaN with supply fixed."""
    if "left_at" not in workers:
        return math.nan
    rate = exit_rate(workers, ctx.horizon)
    return math.log(2) / rate if rate > 0 else math.nan


@measure
def arrivals_over_departures(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Workers who registered during the run over workers who left (1 in a steady state);
    NaN with supply fixed or when nobody left."""
    if "left_at" not in workers:
        return math.nan
    exits = int(np.isfinite(workers["left_at"]).sum())
    return float((workers["joined_at"] > 0).sum() / exits) if exits else math.nan


@measure
def median_reservation_pay(
    ctx: MeasureContext, tasks: pd.DataFrame, workers: pd.DataFrame
) -> float:
    """Median over workers of the lowest pay per hour of effort they accept."""
    return median(workers["reservation_pay"])
