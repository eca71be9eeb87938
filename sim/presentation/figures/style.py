"""What every figure shares: sizes, colours, time axes, thinning of large tables, the "no data"
note and how a figure is written to a PNG file.

Figures are drawn on ``matplotlib.figure.Figure`` objects without pyplot's global state, so
nothing is ever shown and figures can be drawn in parallel processes or embedded in a larger
layout through ``ax=``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter
from numpy.typing import ArrayLike

from sim.analysis import metrics
from sim.analysis.catalogue import NA

DPI = 110
"""Resolution of the PNG files."""
ALL_LABEL = "All workers"
ALL_COLOR = "black"
MAX_POINTS = 2_000
"""Curves are thinned to about this many points."""
LATENCY_FLOOR = 0.1
"""Claim latencies below this many seconds are drawn at it (a log axis cannot show 0)."""
MEAN_MARKER = {"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"}
"""How a mean is marked on box plots."""

_DURATION_TICKS = (0.1, 1.0, 10.0, 60.0, 600.0, 3_600.0, 6 * 3_600.0, 86_400.0, 7 * 86_400.0)
"""Major tick positions (seconds) of log time axes: 0.1 s, 1 s, 10 s, 1 min, 10 min, 1 h, 6 h,
1 day, 7 days."""


def figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Use the caller's Axes (and its root Figure) or make a fresh Figure, so every plot can be
    embedded in a larger layout or stand alone."""
    if ax is not None:
        return ax.get_figure(root=True), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig: Figure, target: Path | BinaryIO) -> None:
    """Write ``fig`` as a PNG image at :data:`DPI`, trimmed to its content, to a file or a
    binary stream."""
    fig.savefig(target, dpi=DPI, bbox_inches="tight", format="png")


def profile_colors(profile_names: Iterable[str]) -> dict[str, str]:
    """Colour of each profile (sorted names onto the colour cycle ``C0``, ``C1``, ...), so a
    profile looks the same in every figure; variants of a comparison are coloured the same
    way."""
    names = sorted({str(name) for name in profile_names})
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def split_by(values: pd.Series, labels: pd.Series, names: Sequence[str]) -> list[pd.Series]:
    """Split ``values`` by ``labels`` into one Series per name in ``names`` (empty when a name
    has no rows), vectorised via a single groupby."""
    by_label = {str(key): group for key, group in values.groupby(labels.to_numpy(dtype=object))}
    empty = values.iloc[:0]
    return [by_label.get(name, empty) for name in names]


def thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS
         ) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``max_points`` evenly spaced points of a monotone curve (ends included), so
    curves of 300,000 workers plot quickly and look the same."""
    if x.size <= max_points:
        return x, y
    index = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(np.int64))
    return x[index], y[index]


def no_data(ax: Axes, message: str) -> None:
    """Say so on the Axes instead of drawing an empty frame when there is nothing to plot."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def lorenz_axes(fig: Figure, ax: Axes, title: str) -> Figure:
    """Axes, labels and legend shared by every Lorenz-curve figure."""
    ax.set(
        xlim=(0, 100),
        ylim=(0, 100),
        xlabel="Cumulative share of workers, lowest earners first (%)",
        ylabel="Cumulative share of total earnings (%)",
        title=title,
    )
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return fig


def equality_line(ax: Axes) -> None:
    """The diagonal of perfect equality under Lorenz curves."""
    ax.plot([0, 100], [0, 100], color="0.6", linestyle=":", linewidth=1, label="Perfect equality")


def error_bars(rows: pd.DataFrame) -> np.ndarray:
    """Distances from ``mean`` down to ``ci_low`` and up to ``ci_high`` (2 x n, as
    ``errorbar`` wants them); undefined intervals draw no bar."""
    low = (rows["mean"] - rows["ci_low"]).to_numpy(float)
    high = (rows["ci_high"] - rows["mean"]).to_numpy(float)
    return np.nan_to_num(np.clip(np.vstack([low, high]), 0.0, None), nan=0.0)


# --------------------------------------------------------------------------- axis labels


def tick_duration(seconds: float) -> str:
    """Human-friendly duration tick label ("45 s", "12 min", "3 h", "2 days")."""
    if not math.isfinite(seconds):
        return ""
    for size, unit in ((86_400.0, "days"), (3_600.0, "h"), (60.0, "min")):
        if seconds >= size:
            value = seconds / size
            text = f"{value:.0f}" if value >= 10 or value == round(value) else f"{value:.1f}"
            return f"{text} {'day' if unit == 'days' and text == '1' else unit}"
    return f"{seconds:.3g} s"


def duration_axis(ax: Axes) -> None:
    """Log-scaled x axis with ticks at round durations (1 s, 1 min, 1 h, 1 day ...)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(_DURATION_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: tick_duration(x)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def round_duration_ticks(ax: Axes) -> None:
    """Linear time x axis (seconds) with ticks at round numbers of the unit that suits its
    range (0, 2 h, 4 h ... rather than 0, 4.17 h ...); call after the data are drawn."""
    low, high = ax.get_xlim()
    span = max(abs(low), abs(high))
    unit = next((size for size in (86_400.0, 3_600.0, 60.0) if span >= 2 * size), 1.0)
    ticks = MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]).tick_values(low / unit, high / unit) * unit
    ax.xaxis.set_major_locator(FixedLocator(ticks[(ticks >= low) & (ticks <= high)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: tick_duration(v)))


def short_money(value: float) -> str:
    """Short money label for annotations (two decimals below 100, none above)."""
    if not math.isfinite(value):
        return NA
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def latency_curves(ax: Axes, curves: Sequence[tuple[str, ArrayLike, str, float]], empty: str,
                   title: str) -> None:
    """Empirical distributions of claim latency on a log time axis, one step curve per
    ``(label, latencies, colour, line width)`` (the sample size and median in the legend;
    latencies under :data:`LATENCY_FLOOR` drawn at it); ``empty`` is shown when no curve has
    data. Shared by the run's and the comparison's latency figures."""
    drawn = 0
    for label, values, color, width in curves:
        values = np.asarray(values, dtype=float)
        x = np.sort(np.maximum(metrics.defined(values), LATENCY_FLOOR))
        if x.size == 0:
            continue
        y = np.arange(1, x.size + 1) / x.size
        x, y = thin(x, y)
        ax.step(np.concatenate(([x[0]], x)), np.concatenate(([0.0], y)), where="post",
                color=color, linewidth=width,
                label=f"{label} (n={values.size:,}, median "
                      f"{tick_duration(metrics.median(values))})")
        drawn += 1
    if drawn:
        ax.legend(loc="upper left", fontsize="small")
    else:
        no_data(ax, empty)
    duration_axis(ax)
    ax.set_ylim(0, 1.0)
    ax.grid(alpha=0.3)
    ax.set(xlabel=f"Time from release to claim (log scale; under {LATENCY_FLOOR:g} s drawn at "
                  f"{LATENCY_FLOOR:g} s)",
           ylabel="Share of claimed tasks claimed within this time", title=title)
