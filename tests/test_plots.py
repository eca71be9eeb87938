"""Smoke tests of sim.plots: the standard figures render from small synthetic tables."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim import plots

matplotlib.use("Agg")  # headless; sim.plots never touches pyplot, so setting it here is enough

DAY = 86_400.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synthetic_run(
    n_workers: int = 60, n_tasks: int = 400, seed: int = 0
) -> tuple[pd.DataFrame, ...]:
    """A small tasks/workers pair following the results contract (random values, no model)."""
    rng = np.random.default_rng(seed)
    profiles = np.array(["evening", "part_time", "always_on"])
    profile = profiles[rng.integers(0, profiles.size, n_workers)]
    work_time = np.where(rng.random(n_workers) < 0.4, 0.0, rng.exponential(3600.0, n_workers))
    unpaid_time = rng.exponential(7200.0, n_workers)
    earnings = work_time / 3600.0 * rng.uniform(2.0, 15.0, n_workers)
    with np.errstate(divide="ignore", invalid="ignore"):
        hourly_paid = np.where(work_time > 0, earnings / (work_time / 3600.0), math.nan)
        hourly_effective = earnings / ((work_time + unpaid_time) / 3600.0)
    workers = pd.DataFrame(
        {
            "worker_id": np.arange(n_workers),
            "profile": profile,
            "online_time": work_time + unpaid_time,
            "work_time": work_time,
            "unpaid_time": unpaid_time,
            "earnings": earnings,
            "tasks_approved": np.round(work_time / 300.0).astype(np.int64),
            "tasks_rejected": rng.integers(0, 2, n_workers),
            "hourly_paid": hourly_paid,
            "hourly_effective": hourly_effective,
        }
    )
    released = np.sort(rng.uniform(0.0, 7 * DAY, n_tasks))
    claimed = rng.random(n_tasks) < 0.8
    latency = rng.lognormal(4.0, 2.0, n_tasks)
    latency[:5] = 0.0  # instant claims (scripts) must not break the log axis
    winner = rng.integers(0, n_workers, n_tasks)
    tasks = pd.DataFrame(
        {
            "task_id": np.arange(n_tasks),
            "released_at": released,
            "expires_at": np.inf,
            "claimed_at": np.where(claimed, released + latency, math.nan),
            "worker_id": pd.Series(winner, dtype="Int64").where(claimed),
            "winner_profile": pd.Series(profile[winner]).where(claimed, None),
            "status": np.where(claimed, "approved", "open"),
        }
    )
    return tasks, workers


def test_save_run_plots_writes_four_pngs(tmp_path: Path) -> None:
    tasks, workers = synthetic_run()
    out = tmp_path / "plots"
    paths = plots.save_run_plots(tasks, workers, 7 * DAY, out)
    names = ["lorenz.png", "monthly_earnings.png", "latency_cdf.png", "hourly_pay.png"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for path in paths:
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_SIGNATURE), path


def test_plots_accept_an_axes_and_empty_tables(tmp_path: Path) -> None:
    tasks, workers = synthetic_run()
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.latency_cdf(tasks, ax=ax) is fig
    paths = plots.save_run_plots(tasks.iloc[:0], workers.iloc[:0], 7 * DAY, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)
