"""The one place where results objects reach up into presentation: their ``.plot`` accessors
and their ``_repr_html_`` (the pattern of pandas' ``DataFrame.plot``).

:class:`~sim.results.run_result.RunResult`, :class:`~sim.experiments.compare.Comparison` and
:class:`~sim.experiments.calibration.CalibrationReport` import this module inside the methods
that draw or render, and nothing else of the presentation layer (the import-layer contract in
``pyproject.toml`` allows exactly these imports). Everything here only forwards to the figure
and HTML functions, the figures through their registry
(:mod:`sim.presentation.figures.registry`).
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
    ``res.plot.monthly_earnings()``, ``res.plot.latency_cdf()``, ``res.plot.hourly_pay()``,
    and in a market of several platforms ``res.plot.platforms()``.

    Each returns a ``matplotlib.figure.Figure`` (displayed in a notebook): the run figure of the
    same name in :data:`sim.presentation.figures.registry.RUN`, drawn from the run's tables
    with the scenario's currency; pass ``ax=`` to draw into an Axes of a larger layout.
    """

    def __init__(self, result: RunResult) -> None:
        figures_in_notebooks()
        self._result = result

    def _draw(self, name: str, ax: Axes | None) -> Figure:
        from sim.presentation.figures import registry

        return registry.standard("run", name).draw(registry.RunSubject.of(self._result), ax)

    def lorenz(self, ax: Axes | None = None) -> Figure:
        """Lorenz curves of earnings, overall and per profile."""
        return self._draw("lorenz", ax)

    def monthly_earnings(self, ax: Axes | None = None) -> Figure:
        """Monthly earnings by profile."""
        return self._draw("monthly_earnings", ax)

    def latency_cdf(self, ax: Axes | None = None) -> Figure:
        """Claim latency by the winner's profile."""
        return self._draw("latency_cdf", ax)

    def hourly_pay(self, ax: Axes | None = None) -> Figure:
        """Pay per hour of paid work vs per hour online."""
        return self._draw("hourly_pay", ax)

    def platforms(self, ax: Axes | None = None) -> Figure:
        """A market of several platforms: earnings by platform and profile (ValueError with
        one platform)."""
        if self._result.registrations is None:
            raise ValueError("this run has one platform: res.plot.platforms() needs a market "
                             "of several (scenario `platforms`)")
        return self._draw("platforms", ax)


class ComparisonPlots:
    """The figures of a :class:`~sim.experiments.compare.Comparison`, one call each:
    ``cmp.plot.metric_intervals()``, ``cmp.plot.tradeoff()``, ``cmp.plot.lorenz_overlay()``,
    ``cmp.plot.profile_earnings()``, ``cmp.plot.winners_losers()`` and, when the comparison
    kept its claim latencies, ``cmp.plot.latency_overlay()`` (the comparison figures of the
    same names in :data:`sim.presentation.figures.registry.COMPARISON`)."""

    def __init__(self, comparison: Comparison) -> None:
        figures_in_notebooks()
        self._comparison = comparison

    def _draw(self, name: str, ax: Axes | None = None, currency: str = "EUR",
              metrics: list[str] | None = None) -> Figure:
        from sim.presentation.figures import registry

        subject = registry.ComparisonSubject(self._comparison, currency, metrics)
        return registry.standard("comparison", name).draw(subject, ax)

    def metric_intervals(self, metrics: list[str] | None = None, currency: str = "EUR"
                         ) -> Figure:
        """Each metric (default: the headline metrics) per variant with its interval."""
        return self._draw("metric_intervals", currency=currency, metrics=metrics)

    def tradeoff(self, ax: Axes | None = None) -> Figure:
        """Earnings Gini against mean claim latency, one point per variant."""
        return self._draw("tradeoff", ax)

    def lorenz_overlay(self, ax: Axes | None = None) -> Figure:
        """Lorenz curves of earnings of every variant (replication 0)."""
        return self._draw("lorenz_overlay", ax)

    def profile_earnings(self, ax: Axes | None = None, currency: str = "EUR") -> Figure:
        """Mean monthly earnings by profile and variant, with intervals."""
        return self._draw("profile_earnings", ax, currency)

    def winners_losers(self, ax: Axes | None = None, currency: str = "EUR") -> Figure:
        """Per profile, the paired difference of mean monthly earnings to the baseline."""
        return self._draw("winners_losers", ax, currency)

    def latency_overlay(self, ax: Axes | None = None) -> Figure:
        """Distributions of claim latency of every variant (replication 0; needs
        ``compare(latencies=True)``)."""
        return self._draw("latency_overlay", ax)


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
    from sim.presentation.figures import registry

    figures_in_notebooks()
    return registry.standard("calibration", "calibration").draw(report, ax)
