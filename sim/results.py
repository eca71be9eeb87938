"""Run results: tidy tables built once at the end of a run, saved and loaded atomically."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError, StoreError, shown
from sim.folders import MANIFEST_FILE, read_json, read_table, write_folder, write_manifest
from sim.scenario import Scenario, validate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.experiment import Comparison
    from sim.platform import Platform
    from sim.population import Population

WEEK = 7 * 86400.0
__version__ = "0.1.0"
TABLES = ("tasks", "workers")
MODES = ["refresh", "script", "notification"]


def _with_identity(df: pd.DataFrame, identity: dict[str, Any]) -> pd.DataFrame:
    for key, value in identity.items():
        df[key] = value
    return df


def task_table(platform: Platform, identity: dict[str, Any]) -> pd.DataFrame:
    """One row per task with the columns of the design's contract."""
    from sim.platform import STATUS_NAMES

    d, pop = platform.demand, platform.pop
    batch = np.repeat(np.arange(len(d.batch_size)), d.batch_size)
    worker = np.asarray(platform.worker, dtype=np.int64)
    claimed = worker >= 0
    profile = np.where(claimed, pop.profile[np.maximum(worker, 0)], -1)
    region_names = np.asarray([*pop.region_names, None], dtype=object)
    status = np.asarray(platform.status, dtype=np.int64)
    paid = np.where(status == 0, d.batch_reward[batch], 0.0)
    df = pd.DataFrame(
        {
            "task_id": np.arange(d.n_tasks, dtype=np.int64),
            "batch_id": batch.astype(np.int64),
            "requester_id": d.batch_requester[batch].astype(np.int64),
            "task_type": pd.Categorical.from_codes(d.batch_type[batch], d.type_names),
            "region": region_names[d.batch_region[batch]],
            "reward": d.batch_reward[batch],
            "fee": paid * platform.commission,
            "effort": d.batch_effort[batch],
            "released_at": d.batch_released[batch],
            "expires_at": d.batch_expires[batch],
            "claimed_at": np.asarray(platform.claimed_at, dtype=float),
            "started_at": np.asarray(platform.started_at, dtype=float),
            "completed_at": np.asarray(platform.completed_at, dtype=float),
            "worker_id": pd.array(np.where(claimed, worker, 0), dtype="Int64"),
            "winner_profile": pd.Categorical.from_codes(profile, pop.profile_names),
            "status": pd.Categorical.from_codes(status, list(STATUS_NAMES)),
            "paid": paid,
        }
    )
    df.loc[~claimed, "worker_id"] = pd.NA
    return _with_identity(df, identity)


def worker_table(platform: Platform, identity: dict[str, Any]) -> pd.DataFrame:
    """One row per registered worker (zero earners included) with time and pay accounting."""
    from sim.platform import ABANDONED, APPROVED, REJECTED

    pop, n = platform.pop, platform.pop.size
    online = np.bincount(
        pop.session_worker, weights=pop.session_end - pop.session_start, minlength=n
    )
    worker = np.asarray(platform.worker, dtype=np.int64)
    status = np.asarray(platform.status, dtype=np.int64)

    def count(code: int | None = None) -> np.ndarray:
        sel = worker >= 0 if code is None else (worker >= 0) & (status == code)
        return np.bincount(worker[sel], minlength=n).astype(np.int64)

    earnings = np.asarray(platform.earnings)
    work = np.asarray(platform.work_time)
    with np.errstate(divide="ignore", invalid="ignore"):
        hourly_paid = np.where(work > 0, earnings / (work / 3600), np.nan)
        hourly_effective = np.where(online > 0, earnings / (online / 3600), np.nan)
    region_names = np.asarray([*pop.region_names, None], dtype=object)
    df = pd.DataFrame(
        {
            "worker_id": np.arange(n, dtype=np.int64),
            "profile": pd.Categorical.from_codes(pop.profile, pop.profile_names),
            "region": region_names[pop.region],
            "discovery": pd.Categorical.from_codes(
                np.asarray([MODES.index(d.mode) for d in pop.discovery_specs], dtype=int)[
                    pop.discovery
                ],
                MODES,
            ),
            "speed": pop.speed,
            "rejection_probability": pop.rejection_probability,
            "reservation_pay": pop.reservation_pay,
            "sessions": np.bincount(pop.session_worker, minlength=n).astype(np.int64),
            "active_weeks": _active_weeks(pop, platform.scn.horizon),
            "online_time": online,
            "work_time": work,
            "unpaid_work_time": np.asarray(platform.unpaid_work),
            "unpaid_time": online - work,
            "earnings": earnings,
            "withheld": np.where(earnings < platform.scn.platform.payout_threshold, earnings, 0.0),
            "tasks_claimed": count(),
            "tasks_approved": count(APPROVED),
            "tasks_rejected": count(REJECTED),
            "tasks_abandoned": count(ABANDONED),
            "hourly_paid": hourly_paid,
            "hourly_effective": hourly_effective,
        }
    )
    return _with_identity(df, identity)


def _active_weeks(pop: Population, horizon: float) -> np.ndarray:
    """Number of complete 7-day weeks of the horizon in which each worker started a session."""
    week = pop.session_start // WEEK
    inside = week < horizon // WEEK
    pairs = np.unique(pop.session_worker[inside] * 10_000 + week[inside].astype(np.int64))
    return np.bincount(pairs // 10_000, minlength=pop.size).astype(np.int64)


def provenance() -> dict[str, Any]:
    """Package version and git commit, recorded in every manifest."""
    return {"package_version": __version__, "git_commit": _git_commit()}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def figures_in_notebooks() -> None:
    """Let IPython and Jupyter display the ``Figure`` objects the plot accessors return as PNG
    images, as pyplot's inline backend would, without using pyplot's global state. Does nothing
    outside IPython or when a display for figures is already set up."""
    import sys

    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
    except KeyError:
        formatter.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


class RunPlots:
    """The standard figures of a run, one call each: ``res.plot.lorenz()``,
    ``res.plot.monthly_earnings()``, ``res.plot.latency_cdf()``, ``res.plot.hourly_pay()``.

    Each returns a ``matplotlib.figure.Figure`` (displayed in a notebook) drawn by the function
    of the same name in :mod:`sim.plots` from the run's tables, with the scenario's currency;
    pass ``ax=`` to draw into an Axes of a larger layout.
    """

    def __init__(self, result: RunResult) -> None:
        figures_in_notebooks()
        self._result = result

    def lorenz(self, ax: Axes | None = None) -> Figure:
        """Lorenz curves of earnings, overall and per profile (see :func:`sim.plots.lorenz`)."""
        from sim import plots

        return plots.lorenz(self._result.workers, ax=ax)

    def monthly_earnings(self, ax: Axes | None = None) -> Figure:
        """Monthly earnings by profile (see :func:`sim.plots.monthly_earnings_by_profile`)."""
        from sim import plots

        res = self._result
        return plots.monthly_earnings_by_profile(res.workers, res.horizon, ax,
                                                 res.scenario.currency)

    def latency_cdf(self, ax: Axes | None = None) -> Figure:
        """Claim latency by the winner's profile (see :func:`sim.plots.latency_cdf`)."""
        from sim import plots

        res = self._result
        return plots.latency_cdf(res.tasks, ax, profiles=[str(p) for p in res.scenario.profiles])

    def hourly_pay(self, ax: Axes | None = None) -> Figure:
        """Pay per hour of paid work vs per hour online (see :func:`sim.plots.hourly_pay`)."""
        from sim import plots

        return plots.hourly_pay(self._result.workers, ax, self._result.scenario.currency)


class ComparisonPlots:
    """The figures of a :class:`sim.experiment.Comparison`, one call each:
    ``cmp.plot.metric_intervals()``, ``cmp.plot.tradeoff()``, ``cmp.plot.lorenz_overlay()``,
    ``cmp.plot.profile_earnings()`` (the functions of the same names in :mod:`sim.plots`)."""

    def __init__(self, comparison: Comparison) -> None:
        figures_in_notebooks()
        self._comparison = comparison

    def metric_intervals(self, metrics: list[str] | None = None, currency: str = "EUR"
                         ) -> Figure:
        """Each headline metric per variant with its interval."""
        from sim import plots

        return plots.metric_intervals(self._comparison, metrics, currency)

    def tradeoff(self, ax: Axes | None = None) -> Figure:
        """Earnings Gini against mean claim latency, one point per variant."""
        from sim import plots

        return plots.tradeoff(self._comparison, ax)

    def lorenz_overlay(self, ax: Axes | None = None) -> Figure:
        """Lorenz curves of earnings of every variant (replication 0)."""
        from sim import plots

        return plots.lorenz_overlay(self._comparison, ax)

    def profile_earnings(self, ax: Axes | None = None, currency: str = "EUR") -> Figure:
        """Mean monthly earnings by profile and variant, with intervals."""
        from sim import plots

        return plots.profile_earnings(self._comparison, ax, currency)


@dataclass(repr=False)
class RunResult:
    """Everything one run produced: tables, headline summary and run statistics.

    In a notebook a result displays as its headline and per-profile tables; ``res.plot``
    draws its standard figures (``res.plot.lorenz()``, see :class:`RunPlots`).
    """

    scenario: Scenario
    seed: int
    tasks: pd.DataFrame
    workers: pd.DataFrame
    summary: dict[str, float]
    stats: dict[str, float] = field(default_factory=dict)
    variant: str = "base"
    replication: int = 0

    @property
    def horizon(self) -> float:
        """Simulated time in seconds."""
        return self.scenario.horizon

    @property
    def plot(self) -> RunPlots:
        """The run's standard figures, one call each: ``res.plot.lorenz()`` (see
        :class:`RunPlots`)."""
        return RunPlots(self)

    def __repr__(self) -> str:
        gini = self.summary.get("earnings_gini", float("nan"))
        return (f"<RunResult {self.scenario.name!r} seed={self.seed} variant={self.variant!r} "
                f"replication={self.replication}: {len(self.tasks):,} tasks, "
                f"{len(self.workers):,} workers, earnings Gini {gini:.3f}>")

    def _repr_html_(self) -> str:
        """Headline and per-profile tables, for Jupyter."""
        from sim.html_report import run_html

        return run_html(self)

    def manifest(self) -> dict[str, Any]:
        """What was run, with which seed, code version and cost."""
        return {
            "scenario": self.scenario.to_dict(),
            "seed": self.seed,
            "variant": self.variant,
            "replication": self.replication,
            **provenance(),
            **self.stats,
        }

    def save(self, directory: str | Path) -> Path:
        """Write Parquet tables, ``summary.json`` and ``manifest.json`` atomically to a folder.

        Files go to a staging folder renamed into place at the end, so a crash never leaves a
        half-written result folder. An existing folder is replaced only if it is empty or a
        run folder microwork wrote (see :func:`sim.folders.check_replaceable`); otherwise
        StoreError.
        """
        return write_folder(directory, "run", self.write_into)

    def write_into(self, folder: Path) -> None:
        """Write the result files into an existing folder (used by :meth:`save`)."""
        for name in TABLES:
            getattr(self, name).to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "summary.json").write_text(json.dumps(self.summary, indent=2, default=float))
        write_manifest(folder, "run", self.manifest())


def load_result(directory: str | Path) -> RunResult:
    """Read a folder written by :meth:`RunResult.save` back into a :class:`RunResult`; a
    missing or damaged file raises StoreError naming it."""
    folder = Path(directory)
    manifest_file, summary_file = folder / MANIFEST_FILE, folder / "summary.json"
    manifest, summary = read_json(manifest_file), read_json(summary_file)
    if not isinstance(summary, dict):
        raise StoreError(f"{summary_file}: expected the run's summary (a JSON object), got "
                         f"{shown(summary)}")
    try:
        scenario = validate(manifest["scenario"])
        identity = {key: manifest[key] for key in ("seed", "variant", "replication")}
    except (KeyError, TypeError, ScenarioError) as exc:
        problem = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise StoreError(f"{manifest_file}: not the manifest of a run ({problem})") from None
    tables = {name: read_table(folder / f"{name}.parquet", pd.read_parquet) for name in TABLES}
    stats_keys = ("wall_time", "events", "events_per_task", "polls")
    return RunResult(
        scenario=scenario,
        summary=summary,
        stats={k: manifest[k] for k in stats_keys if k in manifest},
        **identity,
        **tables,
    )
