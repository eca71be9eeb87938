"""Figures of sweeps and sensitivity analyses.

- :func:`sweep_lines`: a metric across the grid, one line per combination of the other axes,
  with the interval of the mean over replications as a band;
- :func:`sweep_heatmap`: a metric over a two-axis grid, each cell annotated with its mean and
  interval half-width;
- :func:`sensitivity_indices`: first-order and total Sobol' indices per output with their
  intervals, or Morris mu* against sigma.

Labels and values come from the metric catalogue (:mod:`sim.analysis.catalogue`);
:mod:`sim.presentation.figures.registry` lists the figures with their file names and captions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.analysis.catalogue import finite, format_metric, metric_label
from sim.presentation.content import grid_value, percent_level, plural, sensitivity_method
from sim.presentation.figures.style import figure_and_axes

if TYPE_CHECKING:
    from sim.experiments.sensitivity import SensitivityResult
    from sim.experiments.sweep import Axis, SweepResult


def _axis_title(axis: Axis) -> str:
    linked = f" (with {', '.join(axis.paths[1:])})" if len(axis.paths) > 1 else ""
    return axis.label + linked


def _x_axis(axes: Sequence[Axis]) -> int:
    """Index of the axis drawn along x: the first whose levels are all numbers, else the
    first axis."""
    for i, axis in enumerate(axes):
        if all(finite(level[0]) for level in axis.values):
            return i
    return 0


def _level_index(result: SweepResult) -> pd.DataFrame:
    """Per point, the index of its level on every axis (point order is the grid product)."""
    shape = [len(a.values) for a in result.axes]
    idx = np.array(np.unravel_index(np.arange(int(np.prod(shape))), shape)).T
    return pd.DataFrame(idx, columns=[a.name for a in result.axes]).rename_axis("point")


def sweep_lines(result: SweepResult, metric: str, ax: Axes | None = None,
                currency: str = "EUR") -> Figure:
    """``metric`` along one axis of the grid (the first numeric one), one line per combination
    of the other axes, with the interval of the mean over replications as a band."""
    fig, ax = figure_and_axes(ax, (7.0, 4.5))
    axes = result.axes
    xi = _x_axis(axes)
    x_axis = axes[xi]
    table = result.table([metric]).set_index("point")
    levels = _level_index(result)
    numeric = all(finite(level[0]) for level in x_axis.values)
    xs = np.array([level[0] for level in x_axis.values], dtype=float) if numeric \
        else np.arange(len(x_axis.values), dtype=float)
    others = [i for i in range(len(axes)) if i != xi]
    groups = levels.groupby([axes[i].name for i in others], sort=True) if others \
        else [((), levels)]
    for n, (key, group) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        order = group.sort_values(x_axis.name).index
        rows = table.loc[order]
        label = ", ".join(f"{axes[i].label}={grid_value(axes[i].values[k][0])}"
                          for i, k in zip(others, key, strict=True)) or None
        color = f"C{n % 10}"
        ax.plot(xs, rows["mean"], marker="o", color=color, label=label)
        ax.fill_between(xs, rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float),
                        color=color, alpha=0.2, linewidth=0)
    if not numeric:
        ax.set_xticks(xs, [grid_value(level[0]) for level in x_axis.values])
    ax.set_xlabel(_axis_title(x_axis))
    ax.set_ylabel(metric_label(metric, currency))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_metric(metric, v)))
    reps = int(result.runs["replication"].nunique())
    ax.set_title(f"{metric_label(metric, currency)}: mean and {percent_level(result.level)} "
                 f"interval over {plural(reps, 'replication')}", fontsize="medium")
    if others:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def sweep_heatmap(result: SweepResult, metric: str, ax: Axes | None = None,
                  currency: str = "EUR") -> Figure:
    """``metric`` over a grid of exactly two axes: colour is the mean over replications, each
    cell shows the mean and the half-width of its interval."""
    if len(result.axes) != 2:
        raise ValueError(f"a heat map needs a grid of two axes, this one has {len(result.axes)}")
    fig, ax = figure_and_axes(ax, (7.0, 5.0))
    rows_axis, cols_axis = result.axes
    table = result.table([metric]).set_index("point")
    shape = (len(rows_axis.values), len(cols_axis.values))
    mean = table["mean"].to_numpy(float).reshape(shape)
    half = ((table["ci_high"] - table["ci_low"]) / 2).to_numpy(float).reshape(shape)
    image = ax.imshow(mean, cmap="viridis", aspect="auto", origin="lower")
    bar = fig.colorbar(image, ax=ax, label=metric_label(metric, currency))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_metric(metric, v)))
    finite = mean[np.isfinite(mean)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), value in np.ndenumerate(mean):
        text = format_metric(metric, value)
        if math.isfinite(half[i, j]):
            text += f"\n± {format_metric(metric, half[i, j])}"
        ax.text(j, i, text, ha="center", va="center", fontsize="small",
                color="black" if math.isfinite(value) and value > middle else "white")
    ax.set_xticks(range(shape[1]), [grid_value(v[0]) for v in cols_axis.values])
    ax.set_yticks(range(shape[0]), [grid_value(v[0]) for v in rows_axis.values])
    ax.set_xlabel(_axis_title(cols_axis))
    ax.set_ylabel(_axis_title(rows_axis))
    ax.set_title(f"{metric_label(metric, currency)}: mean ± {percent_level(result.level)} "
                 "interval half-width", fontsize="medium")
    return fig


def sensitivity_indices(result: SensitivityResult, currency: str = "EUR") -> Figure:
    """One panel per output: Sobol' first-order (S1) and total (ST) indices per parameter with
    their bootstrap intervals, or Morris mu* (with interval) against sigma."""
    outputs = result.outputs
    fig = Figure(figsize=(4.6 * len(outputs) + 0.6, 0.45 * len(result.names) + 2.4),
                 layout="constrained")
    panels = fig.subplots(1, len(outputs), squeeze=False).ravel()
    table = result.indices
    names = result.names
    for ax, output in zip(panels, outputs, strict=True):
        rows = table[table["output"] == output].set_index(["index", "parameter"])
        if result.method == "sobol":
            y = np.arange(len(names))[::-1]
            for k, (index, label) in enumerate((("S1", "first order (S1)"),
                                                ("ST", "total (ST)"))):
                part = rows.loc[index].reindex(names)
                ax.barh(y + (0.2 if k == 0 else -0.2), part["value"], height=0.38,
                        xerr=np.nan_to_num(part["conf"].to_numpy(float)), capsize=3,
                        color=f"C{k}", label=label)
            ax.set_yticks(y, names)
            ax.axvline(0, color="0.4", linewidth=0.8)
            ax.set_xlabel("Sobol' index (share of output variance)")
        else:
            mu_star = rows.loc["mu_star"].reindex(names)
            sigma = rows.loc["sigma"].reindex(names)
            ax.errorbar(mu_star["value"], sigma["value"],
                        xerr=np.nan_to_num(mu_star["conf"].to_numpy(float)), fmt="o",
                        capsize=3)
            for name in names:
                ax.annotate(name, (mu_star.loc[name, "value"], sigma.loc[name, "value"]),
                            textcoords="offset points", xytext=(4, 4), fontsize="small")
            ax.set_xlabel("mu* (mean absolute elementary effect)")
            ax.set_ylabel("sigma (interactions, non-linearity)")
        ax.set_title(metric_label(output, currency), fontsize="medium")
        ax.grid(alpha=0.3)
    if result.method == "sobol":
        panels[0].legend(fontsize="small", loc="lower right")
    reps = int(result.runs["replication"].nunique())
    fig.suptitle(f"{sensitivity_method(result.method)}, {percent_level(result.level)} bootstrap "
                 f"intervals ({plural(len(result.x), 'point')} x {plural(reps, 'replication')})")
    return fig
