"""The one place where results objects reach up into presentation: their ``.plot`` accessors
and their ``_repr_html_`` (the pattern of pandas' ``DataFrame.plot``).

:class:`~sim.results.run_result.RunResult`, :class:`~sim.experiments.compare.Comparison` and
:class:`~sim.experiments.calibration.CalibrationReport` import this module inside the methods
that draw or render, and nothing else of the presentation layer (the import-layer contract in
``pyproject.toml`` allows exactly these imports). Everything here only forwards to the figure
and HTML functions.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison
    from sim.results.run_result import RunResult


def figures_in_notebooks() -> None:
    """Let IPython and Jupyter display the ``Figure`` objects the plot accessors return as PNG
    images, as pyplot's inline backend would, without using pyplot's global state. Does nothing
    outside IPython or when a display for figures is already set up."""
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

    Each returns a ``matplotlib.figure.Figure`` (displayed in a notebook) drawn by the function of
    the same name in :mod:`sim.presentation.figures` from the run's tables, with the scenario's
    currency; pass ``ax=`` to draw into an Axes of a larger layout.
    """

    def __init__(self, result: RunResult) -> None:
        figures_in_notebooks()
        self._result = result

    def lorenz(self, ax: Axes | None = None) -> Figure:
        """Lorenz curves of earnings, overall and per profile (see :func:`sim.plots.lorenz`)."""
        from sim.presentation import figures as plots

        return plots.lorenz(self._result.workers, ax=ax)

    def monthly_earnings(self, ax: Axes | None = None) -> Figure:
        """Monthly earnings by profile (see :func:`sim.plots.monthly_earnings_by_profile`)."""
        from sim.presentation import figures as plots

        res = self._result
        return plots.monthly_earnings_by_profile(res.workers, res.horizon, ax,
                                                 res.scenario.currency)

    def latency_cdf(self, ax: Axes | None = None) -> Figure:
        """Claim latency by the winner's profile (see :func:`sim.plots.latency_cdf`)."""
        from sim.presentation import figures as plots

        res = self._result
        return plots.latency_cdf(res.tasks, ax, profiles=[str(p) for p in res.scenario.profiles])

    def hourly_pay(self, ax: Axes | None = None) -> Figure:
        """Pay per hour of paid work vs per hour online (see :func:`sim.plots.hourly_pay`)."""
        from sim.presentation import figures as plots

        return plots.hourly_pay(self._result.workers, ax, self._result.scenario.currency)


class ComparisonPlots:
    """The figures of a :class:`sim.experiment.Comparison`, one call each:
    ``cmp.plot.metric_intervals()``, ``cmp.plot.tradeoff()``, ``cmp.plot.lorenz_overlay()``,
    ``cmp.plot.profile_earnings()`` (the functions of the same names in
    :mod:`sim.presentation.figures`)."""

    def __init__(self, comparison: Comparison) -> None:
        figures_in_notebooks()
        self._comparison = comparison

    def metric_intervals(self, metrics: list[str] | None = None, currency: str = "EUR"
                         ) -> Figure:
        """Each headline metric per variant with its interval."""
        from sim.presentation import figures as plots

        return plots.metric_intervals(self._comparison, metrics, currency)

    def tradeoff(self, ax: Axes | None = None) -> Figure:
        """Earnings Gini against mean claim latency, one point per variant."""
        from sim.presentation import figures as plots

        return plots.tradeoff(self._comparison, ax)

    def lorenz_overlay(self, ax: Axes | None = None) -> Figure:
        """Lorenz curves of earnings of every variant (replication 0)."""
        from sim.presentation import figures as plots

        return plots.lorenz_overlay(self._comparison, ax)

    def profile_earnings(self, ax: Axes | None = None, currency: str = "EUR") -> Figure:
        """Mean monthly earnings by profile and variant, with intervals."""
        from sim.presentation import figures as plots

        return plots.profile_earnings(self._comparison, ax, currency)


def run_html(result: RunResult) -> str:
    """A run's headline and per-profile tables as HTML (its ``_repr_html_``)."""
    from sim.presentation import html

    return html.run_html(result)


def comparison_html(comparison: Comparison) -> str:
    """A comparison's table with intervals and paired differences (its ``_repr_html_``)."""
    from sim.presentation import html

    return html.comparison_html(comparison)


def calibration_html(report: CalibrationReport) -> str:
    """A calibration report's verdict and targets (its ``_repr_html_``)."""
    from sim.presentation import html

    return html.calibration_html(report)


def calibration_plot(report: CalibrationReport, ax: Axes | None = None) -> Figure:
    """Simulated against published, one row per target (``report.plot()``)."""
    from sim.presentation import figures

    figures_in_notebooks()
    return figures.calibration(report, ax)
