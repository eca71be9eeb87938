"""Smoke tests of sim.presentation.figures: the standard figures of a run and of a comparison render
from small synthetic tables."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis import metrics
from sim.experiments.compare import Comparison
from sim.presentation import figures as plots

matplotlib.use("Agg")  # headless; the figures never touch pyplot, so setting it here is enough

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


# --------------------------------------------------------------------------- comparisons

COMPARISON_PLOTS = [
    "metric_intervals.png",
    "lorenz_overlay.png",
    "tradeoff.png",
    "profile_earnings.png",
    "winners_losers.png",
]


def synthetic_comparison(
    variants: tuple[str, ...] = ("fcfs", "lottery", "capped"), replications: int = 4, seed: int = 0
) -> Comparison:
    """A Comparison of random summary rows and earnings (no model), as sim.experiments makes."""
    rng = np.random.default_rng(seed)
    profiles = ("always_on", "employee", "student")
    rows = []
    for v, variant in enumerate(variants):
        for r in range(replications):
            shares = rng.dirichlet([6.0, 2.0, 1.0])
            row = {
                "variant": variant,
                "replication": r,
                "seed": 100 + r,
                "fill_rate": rng.uniform(0.8, 1.0),
                "earnings_gini": 0.8 - 0.1 * v + rng.normal(0, 0.01),
                "earnings_top10_share": rng.uniform(0.4, 0.6),
                "monthly_earnings_mean": rng.uniform(100, 130),
                "monthly_earnings_median": rng.uniform(0, 20),
                "claim_latency_mean": 60.0 * (1 + 5 * v) + rng.normal(0, 5),
                "claim_latency_median": rng.uniform(0.5, 300.0),
                "hourly_effective_median": rng.uniform(0, 3),
                "unpaid_minutes_per_paid_hour": rng.uniform(300, 600),
            }
            for name, share in zip(profiles, shares, strict=True):
                row[f"monthly_earnings_mean.{name}"] = rng.uniform(0, 500)
                row[f"earnings_share.{name}"] = share
            rows.append(row)
    earnings = {
        variant: (rng.pareto(1.5, 60) * (rng.random(60) < 0.7)).tolist() for variant in variants
    }
    return Comparison(
        runs=pd.DataFrame(rows),
        baseline=variants[0],
        variants={name: {} for name in variants},
        earnings=earnings,
    )


def test_save_comparison_plots_writes_five_pngs(tmp_path: Path) -> None:
    comparison = synthetic_comparison()
    paths = plots.save_comparison_plots(comparison, tmp_path / "plots", currency="USD")
    assert [p.name for p in paths] == COMPARISON_PLOTS
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(COMPARISON_PLOTS)
    for path in paths:
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_SIGNATURE), path


def test_comparison_plots_content() -> None:
    comparison = synthetic_comparison()
    fig = plots.metric_intervals(comparison, ["earnings_gini", "claim_latency_mean"])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["Earnings Gini", "Claim latency, mean"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["fcfs", "lottery", "capped"]
    default = plots.metric_intervals(comparison)  # headline metrics incl. per-profile shares
    titles = [ax.get_title() for ax in default.axes if ax.get_visible()]
    assert "Earnings share of student" in titles and len(titles) == 12

    legend = [t.get_text() for t in plots.lorenz_overlay(comparison).axes[0].get_legend().texts]
    gini = metrics.gini(comparison.earnings["lottery"])
    assert any(text.startswith(f"lottery (Gini {gini:.3f}") for text in legend)

    ax = plots.tradeoff(comparison).axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert {"fcfs (baseline)", "lottery", "capped"} <= labels

    ax = plots.profile_earnings(comparison, currency="USD").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        plots.ALL_LABEL,
        "always_on",
        "employee",
        "student",
    ]
    assert len(ax.patches) == 3 * 4  # one bar per variant and group
    assert "USD" in ax.get_ylabel()


def test_comparison_plots_accept_an_axes_and_odd_input(tmp_path: Path) -> None:
    comparison = synthetic_comparison()
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.tradeoff(comparison, ax=ax) is fig
    # one variant, undefined values (no claimed task in a run) and no earnings recorded
    single = synthetic_comparison(("only",), replications=2)
    single.runs.loc[0, "claim_latency_mean"] = math.nan
    single.earnings = {}
    paths = plots.save_comparison_plots(single, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)
    # metrics missing from the runs entirely
    bare = synthetic_comparison(replications=2)
    bare.runs = bare.runs[["variant", "replication", "seed", "fill_rate"]]
    assert len(plots.save_comparison_plots(bare, tmp_path / "bare")) == 5
