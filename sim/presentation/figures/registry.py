"""The one list of standard figures: for each kind of result (run, comparison, calibration,
sweep, sensitivity) its figures, each with its file name, caption and drawing function.

Everything that draws the standard figures reads this registry: the ``save_*_plots``
functions that write them into result folders, the ``.plot`` accessors of results
(:mod:`sim.presentation.accessors`) and the report page (:mod:`sim.presentation.html`, which
shows the captions and draws a figure a folder lacks). The file names are those
:data:`sim.results.storage.RESULT_FILES` allows in result folders (a test keeps the two equal).

A drawing function takes a *subject*, the result with what the figure needs besides it (the
currency, the profiles, the metric of a sweep figure), and an optional Axes to draw into.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.analysis import metrics
from sim.analysis.catalogue import metric_label
from sim.presentation.figures.calibration import calibration
from sim.presentation.figures.comparison import (
    latency_overlay,
    lorenz_overlay,
    metric_intervals,
    profile_earnings,
    tradeoff,
    winners_losers,
)
from sim.presentation.figures.run import (
    hourly_pay,
    latency_cdf,
    lorenz,
    monthly_earnings_by_profile,
    platform_earnings,
)
from sim.presentation.figures.style import no_data, save_figure
from sim.presentation.figures.sweep import sensitivity_indices, sweep_heatmap, sweep_lines
from sim.results.storage import safe_name

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison
    from sim.experiments.sensitivity import SensitivityResult
    from sim.experiments.sweep import SweepResult
    from sim.results.run_result import RunResult

S = TypeVar("S")

NO_TASKS = "No task was posted in this run"
"""Written across every figure of a run without tasks (an empty market is a valid result)."""


@dataclass(frozen=True)
class StandardFigure(Generic[S]):
    """A standard figure of one kind of result."""

    file: str
    """Its PNG file name; ``{metric}`` stands for the metric of a figure drawn per metric."""
    caption: str
    """What it shows, for the report page; ``{label}`` stands for the metric's label."""
    draw: Callable[[S, Axes | None], Figure]
    """Draws it from the subject, into the Axes when one is given."""
    applies: Callable[[S], bool] = lambda subject: True
    """Whether the subject has this figure (a heat map needs a grid of two axes)."""

    @property
    def name(self) -> str:
        """The file name without ``.png``: the name of its ``.plot`` accessor method."""
        return Path(self.file).stem

    @property
    def pattern(self) -> str:
        """The file name as a glob pattern (``lines_*.png``)."""
        return self.file.replace("{metric}", "*")


# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True)
class RunSubject:
    """A run's tables with what its figures need besides them."""

    tasks: pd.DataFrame
    workers: pd.DataFrame
    horizon: float
    currency: str = "EUR"
    profiles: Sequence[str] | None = None
    """Profiles whose colours the figures share (default: the workers')."""
    registrations: pd.DataFrame | None = None
    """Worker x platform, in a market of several platforms (None with one)."""

    @classmethod
    def of(cls, result: RunResult) -> RunSubject:
        """The subject of a :class:`~sim.results.run_result.RunResult`."""
        return cls(result.tasks, result.workers, result.horizon, result.scenario.currency,
                   [str(p) for p in result.scenario.profiles], result.registrations)


@dataclass(frozen=True)
class ComparisonSubject:
    """A comparison with the currency of its money and the metrics its intervals show."""

    comparison: Comparison
    currency: str = "EUR"
    metrics: Sequence[str] | None = None
    """Metrics of :func:`~sim.presentation.figures.comparison.metric_intervals` (default: the
    headline metrics)."""


@dataclass(frozen=True)
class SweepSubject:
    """A sweep, the metric drawn and the currency."""

    result: SweepResult
    metric: str
    currency: str = "EUR"


@dataclass(frozen=True)
class SensitivitySubject:
    """A sensitivity analysis and the currency."""

    result: SensitivityResult
    currency: str = "EUR"


def _run_figure(draw: Callable[[RunSubject, Axes | None], Figure]
                ) -> Callable[[RunSubject, Axes | None], Figure]:
    """``draw``, then :data:`NO_TASKS` across the Axes when the run posted no task."""

    def drawn(run: RunSubject, ax: Axes | None) -> Figure:
        fig = draw(run, ax)
        if len(run.tasks) == 0:
            no_data(ax if ax is not None else fig.axes[0], NO_TASKS)
        return fig

    return drawn


def _whole_figure(draw: Callable[[S], Figure]) -> Callable[[S, Axes | None], Figure]:
    """A figure of several panels: it makes its own Figure and cannot draw into an Axes."""

    def drawn(subject: S, ax: Axes | None) -> Figure:
        if ax is not None:
            raise ValueError("this figure has several panels: it cannot draw into one Axes")
        return draw(subject)

    return drawn


# --------------------------------------------------------------------------- the registry

RUN: tuple[StandardFigure[RunSubject], ...] = (
    StandardFigure(
        "lorenz.png",
        "Lorenz curve of earnings, over all workers and within each profile: the further below "
        "the diagonal, the more unequal. Zero earners are included.",
        _run_figure(lambda run, ax: lorenz(run.workers, ax))),
    StandardFigure(
        "monthly_earnings.png",
        "Monthly earnings (30-day month) by profile: boxes show quartiles, whiskers the 1st to "
        "99th percentiles, diamonds the means.",
        _run_figure(lambda run, ax: monthly_earnings_by_profile(run.workers, run.horizon, ax,
                                                                run.currency))),
    StandardFigure(
        "latency_cdf.png",
        "Claim latency (release to claim) by profile of the winning worker: the further left a "
        "curve, the faster that profile wins the race.",
        _run_figure(lambda run, ax: latency_cdf(
            run.tasks, ax, run.profiles if run.profiles is not None
            else metrics.profiles(run.workers)))),
    StandardFigure(
        "hourly_pay.png",
        "Hourly pay by profile: per hour of paid work and per hour online, so the gap between "
        "the two boxes is what unpaid watching and searching costs.",
        _run_figure(lambda run, ax: hourly_pay(run.workers, ax, run.currency))),
    StandardFigure(
        "platforms.png",
        "Markets of several platforms: what each platform's members earned there per month, "
        "stacked by profile; under each bar, its members (workers registered on it).",
        _run_figure(lambda run, ax: platform_earnings(run.registrations, run.horizon, ax,
                                                      run.currency, run.profiles)),
        applies=lambda run: run.registrations is not None),
)

COMPARISON: tuple[StandardFigure[ComparisonSubject], ...] = (
    StandardFigure(
        "metric_intervals.png",
        "Headline metrics per variant: mean over replications with its interval; the dashed "
        "line is the baseline's mean (one per labour supply when both are compared).",
        _whole_figure(lambda s: metric_intervals(s.comparison, s.metrics, s.currency))),
    StandardFigure(
        "lorenz_overlay.png",
        "Lorenz curves of earnings of every variant (replication 0: the same workers and task "
        "arrivals in every variant).",
        lambda s, ax: lorenz_overlay(s.comparison, ax)),
    StandardFigure(
        "tradeoff.png",
        "Trade-off between earnings inequality (Gini) and how long requesters wait for a taker "
        "(mean claim latency), one point per variant.",
        lambda s, ax: tradeoff(s.comparison, ax)),
    StandardFigure(
        "profile_earnings.png",
        "Mean monthly earnings per worker by profile and variant, with intervals: who gains and "
        "who loses.",
        lambda s, ax: profile_earnings(s.comparison, ax, s.currency)),
    StandardFigure(
        "winners_losers.png",
        "Winners and losers: per profile, the paired difference of mean monthly earnings to the "
        "baseline with its interval (green gains, red losses, pale not significant).",
        lambda s, ax: winners_losers(s.comparison, ax, s.currency)),
    StandardFigure(
        "latency_overlay.png",
        "Claim latency (release to claim) of every variant, replication 0: the further left, "
        "the faster tasks find a taker. Drawn when the comparison kept the latencies (the "
        "policy explorer's comparisons).",
        lambda s, ax: latency_overlay(s.comparison, ax),
        lambda s: bool(s.comparison.latencies)),
)

CALIBRATION: tuple[StandardFigure[CalibrationReport], ...] = (
    StandardFigure(
        "calibration.png",
        "Simulated against published, each relative to the published value: grey bands are the "
        "published value's tolerance, points the simulated mean with its interval.",
        calibration),
)

SWEEP: tuple[StandardFigure[SweepSubject], ...] = (
    StandardFigure(
        "lines_{metric}.png",
        "{label} across the grid: the mean over replications with its interval band, one line "
        "per level of the other axes.",
        lambda s, ax: sweep_lines(s.result, s.metric, ax, s.currency)),
    StandardFigure(
        "heatmap_{metric}.png",
        "{label} in every cell of the grid: mean and interval half-width.",
        lambda s, ax: sweep_heatmap(s.result, s.metric, ax, s.currency),
        lambda s: len(s.result.axes) == 2),
)

def _sensitivity(method: str, file: str, caption: str) -> StandardFigure[SensitivitySubject]:
    """The figure of the indices of a sensitivity analysis by ``method``."""
    return StandardFigure(file, caption,
                          _whole_figure(lambda s: sensitivity_indices(s.result, s.currency)),
                          lambda s: s.result.method == method)


SENSITIVITY: tuple[StandardFigure[SensitivitySubject], ...] = (
    _sensitivity("sobol", "sobol_indices.png",
                 "Sobol' indices per parameter and output: first order (S1) and total (ST), "
                 "with bootstrap intervals."),
    _sensitivity("morris", "morris.png",
                 "Morris screening: mu* (mean absolute elementary effect, with interval) "
                 "against sigma (interactions and non-linearity)."),
)

FIGURES: dict[str, tuple[StandardFigure[Any], ...]] = {
    "run": RUN, "comparison": COMPARISON, "calibration": CALIBRATION, "sweep": SWEEP,
    "sensitivity": SENSITIVITY,
}
"""The standard figures of each kind of result folder."""


def standard(kind: str, name: str) -> StandardFigure[Any]:
    """The standard figure ``name`` (its file name without ``.png``) of a kind of result."""
    return next(figure for figure in FIGURES[kind] if figure.name == name)


def caption(kind: str, file: str, currency: str = "EUR") -> str:
    """The caption of a figure file of a ``kind`` folder (a file no standard figure names is
    described by its name)."""
    for figure in FIGURES[kind]:
        if fnmatch.fnmatchcase(file, figure.pattern):
            before, _, after = figure.file.partition("{metric}")
            metric = file.removeprefix(before).removesuffix(after)
            return figure.caption.replace("{label}", metric_label(metric, currency))
    return Path(file).stem.replace("_", " ")


# --------------------------------------------------------------------------- saving


def _save(figures: Sequence[StandardFigure[S]], subject: S, directory: str | Path,
          metric: str = "") -> list[Path]:
    """Draw every figure that applies to ``subject`` and write it into ``directory`` (created
    if needed) under its file name; return the paths written, in registry order."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in figures:
        if figure.applies(subject):
            paths.append(out / figure.file.format(metric=metric))
            save_figure(figure.draw(subject, None), paths[-1])
    return paths


def save_run_plots(tasks: pd.DataFrame, workers: pd.DataFrame, horizon: float,
                   directory: str | Path, currency: str = "EUR",
                   registrations: pd.DataFrame | None = None) -> list[Path]:
    """Write the standard figures of a run (:data:`RUN`: ``lorenz.png``,
    ``monthly_earnings.png``, ``latency_cdf.png``, ``hourly_pay.png``, and ``platforms.png``
    with the ``registrations`` of a market of several platforms) into ``directory`` and return
    their paths in that order."""
    return _save(RUN, RunSubject(tasks, workers, horizon, currency,
                                 registrations=registrations), directory)


def save_comparison_plots(comparison: Comparison, directory: str | Path,
                          currency: str = "EUR") -> list[Path]:
    """Write the standard figures of a comparison (:data:`COMPARISON`:
    ``metric_intervals.png``, ``lorenz_overlay.png``, ``tradeoff.png``,
    ``profile_earnings.png``, ``winners_losers.png``, and ``latency_overlay.png`` when it kept
    the latencies) into ``directory`` and return their paths in that order."""
    return _save(COMPARISON, ComparisonSubject(comparison, currency), directory)


def save_calibration_plots(report: CalibrationReport, directory: str | Path) -> list[Path]:
    """Write the figure of a calibration report (``calibration.png``) into ``directory``."""
    return _save(CALIBRATION, report, directory)


def save_sweep_plots(result: SweepResult, folder: str | Path, metrics: Sequence[str],
                     currency: str = "EUR") -> list[Path]:
    """Write ``lines_<metric>.png`` for every metric, and ``heatmap_<metric>.png`` when the
    grid has two axes (:data:`SWEEP`); return the paths written."""
    base = SweepSubject(result, "", currency)
    return [path for metric in metrics
            for path in _save(SWEEP, replace(base, metric=metric), folder,
                              safe_name(metric, "metric"))]


def save_sensitivity_plots(result: SensitivityResult, folder: str | Path,
                           currency: str = "EUR") -> list[Path]:
    """Write ``sobol_indices.png`` or ``morris.png`` (:data:`SENSITIVITY`); return the paths
    written."""
    return _save(SENSITIVITY, SensitivitySubject(result, currency), folder)
