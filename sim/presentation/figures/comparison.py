"""The standard figures of a comparison: each headline metric per variant with its interval,
the trade-off between inequality and waiting, Lorenz curves of every variant, earnings by
profile, who gains and who loses per profile, and (when the comparison kept them) the
claim-latency distributions of the variants.

Each function returns its Figure (the one holding ``ax`` when an Axes is passed in); labels
and tick values come from the metric catalogue (:mod:`sim.analysis.catalogue`).
:mod:`sim.presentation.figures.registry` lists them with their file names and captions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.analysis import metrics
from sim.analysis.catalogue import comparison_metrics, format_metric, metric_kind, metric_label
from sim.presentation.figures.style import (
    ALL_LABEL,
    equality_line,
    error_bars,
    figure_and_axes,
    latency_curves,
    lorenz_axes,
    no_data,
    profile_colors,
    round_duration_ticks,
    thin,
)

GAIN, LOSS = "#1a9850", "#d73027"
"""Colours of gains and losses in :func:`winners_losers`."""

if TYPE_CHECKING:
    from sim.experiments.compare import Comparison


def _variant_colors(comparison: Comparison) -> dict[str, str]:
    """Colour of each variant of a comparison, the same in every comparison figure."""
    return profile_colors(comparison.variants)


def _replications(comparison: Comparison) -> int:
    return int(comparison.runs["replication"].nunique()) if len(comparison.runs) else 0


def _interval_note(comparison: Comparison) -> str:
    return f"{100 * comparison.level:g}% intervals over {_replications(comparison)} replications"


def metric_intervals(
    comparison: Comparison, metrics: Sequence[str] | None = None, currency: str = "EUR"
) -> Figure:
    """One small panel per metric (default: the headline metrics of
    :func:`sim.analysis.catalogue.comparison_metrics`) with each variant's mean over
    replications and its interval; the dashed line marks the baseline's mean."""
    chosen = list(metrics) if metrics is not None else comparison_metrics(comparison.metrics)
    variants = list(comparison.variants)
    ncols = max(1, min(3, len(chosen)))
    nrows = max(1, math.ceil(len(chosen) / ncols))
    fig = Figure(
        figsize=(4.0 * ncols + 0.8, (0.32 * len(variants) + 1.1) * nrows + 0.6),
        layout="constrained",
    )
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    fig.suptitle(f"Headline metrics per variant: mean and {_interval_note(comparison)}")
    if not chosen or not variants:
        no_data(axes[0], "No metrics")
        return fig
    colors = _variant_colors(comparison)
    table = comparison.table(chosen).set_index(["metric", "variant"])
    y = np.arange(len(variants))[::-1]  # first variant on top
    for ax, metric in zip(axes, chosen, strict=False):
        rows = table.loc[metric].reindex(variants)
        for i, variant in enumerate(variants):
            ax.errorbar(
                rows["mean"].iloc[i],
                y[i],
                xerr=error_bars(rows.iloc[[i]]),
                fmt="o",
                color=colors[variant],
                capsize=3,
                markersize=5,
            )
        for name in comparison.baseline_names:
            base = rows["mean"].get(name, math.nan)
            if math.isfinite(base):
                ax.axvline(base, color="0.5", linestyle="--", linewidth=1)
        ax.set_title(metric_label(metric, currency), fontsize="medium")
        if metric_kind(metric) == "duration":
            round_duration_ticks(ax)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.xaxis.set_major_formatter(
                FuncFormatter(lambda v, _pos, metric=metric: format_metric(metric, v))
            )
        ax.tick_params(axis="x", labelsize="small")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, variants)
    axes[0].set_ylim(-0.6, len(variants) - 0.4)
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    return fig


def lorenz_overlay(comparison: Comparison, ax: Axes | None = None) -> Figure:
    """Lorenz curves of earnings of every variant overlaid (replication 0, the same workers and
    task arrivals in every variant), each with its Gini and the mean Gini over replications in
    the legend; the baseline is drawn thicker."""
    fig, ax = figure_and_axes(ax, (6.5, 6.0))
    equality_line(ax)
    colors = _variant_colors(comparison)
    mean_gini: dict[str, float] = {}
    if "earnings_gini" in comparison.metrics:
        means = comparison.table(["earnings_gini"]).set_index("variant")["mean"]
        mean_gini = {str(k): float(v) for k, v in means.items()}
    drawn = 0
    for variant in comparison.variants:
        values = np.asarray(comparison.earnings.get(variant, []), dtype=float)
        population, share = metrics.lorenz(values)
        if population.size == 0:
            continue
        population, share = thin(population, share)
        label = f"{variant} (Gini {metrics.gini(values):.3f}"
        if math.isfinite(mean_gini.get(variant, math.nan)):
            label += f"; mean of all runs {mean_gini[variant]:.3f}"
        ax.plot(
            100 * population,
            100 * share,
            color=colors[variant],
            linewidth=2.4 if comparison.is_baseline(variant) else 1.4,
            label=label + ")",
        )
        drawn += 1
    if not drawn:
        no_data(ax, "No earnings recorded")
    return lorenz_axes(fig, ax, "Lorenz curves of earnings by variant (replication 0)")


def tradeoff(comparison: Comparison, ax: Axes | None = None) -> Figure:
    """Earnings inequality (Gini) against requester waiting (mean claim latency): one labelled
    point per variant at its means over replications, with interval bars in both directions."""
    fig, ax = figure_and_axes(ax, (7.0, 5.5))
    needed = ["claim_latency_mean", "earnings_gini"]
    ax.set(
        xlabel=f"{metric_label('claim_latency_mean')}: how long requesters wait for a taker",
        ylabel=f"{metric_label('earnings_gini')}: inequality among workers",
        title="Trade-off: worker inequality vs requester waiting",
    )
    if not set(needed) <= set(comparison.metrics) or not len(comparison.runs):
        no_data(ax, "No latency or Gini in the runs")
        return fig
    table = comparison.table(needed).set_index(["metric", "variant"])
    colors = _variant_colors(comparison)
    for variant in comparison.variants:
        x, y = (
            table.loc["claim_latency_mean"].loc[[variant]],
            table.loc["earnings_gini"].loc[[variant]],
        )
        ax.errorbar(
            x["mean"].iloc[0],
            y["mean"].iloc[0],
            xerr=error_bars(x),
            yerr=error_bars(y),
            fmt="o",
            color=colors[variant],
            capsize=3,
            linewidth=1.2,
            markersize=6,
        )
        if math.isfinite(x["mean"].iloc[0]) and math.isfinite(y["mean"].iloc[0]):
            ax.annotate(
                variant + (" (baseline)" if comparison.is_baseline(variant) else ""),
                (x["mean"].iloc[0], y["mean"].iloc[0]),
                xytext=(5, 5),
                textcoords="offset points",
                fontsize="small",
                color=colors[variant],
            )
    ax.margins(0.15)
    round_duration_ticks(ax)
    ax.grid(alpha=0.3)
    ax.text(
        0.99,
        0.01,
        f"Points: means; bars: {_interval_note(comparison)}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize="small",
        color="0.4",
    )
    return fig


def profile_earnings(
    comparison: Comparison, ax: Axes | None = None, currency: str = "EUR"
) -> Figure:
    """Mean monthly earnings per worker of all workers and of each profile (the
    ``monthly_earnings_mean.<profile>`` metrics), one bar per variant with its interval."""
    prefix = "monthly_earnings_mean."
    names = [m.removeprefix(prefix) for m in comparison.metrics if m.startswith(prefix)]
    keys = [k for k in ("monthly_earnings_mean",) if k in comparison.metrics]
    keys += [prefix + name for name in names]
    labels = [ALL_LABEL] * (len(keys) - len(names)) + names
    variants = list(comparison.variants)
    fig, ax = figure_and_axes(ax, (max(6.5, 0.4 * len(keys) * len(variants) + 2.5), 5.0))
    ax.set(
        ylabel=f"{metric_label('monthly_earnings_mean', currency)} per worker, 30-day month",
        title="Monthly earnings by profile and variant",
    )
    if not keys or not len(comparison.runs):
        no_data(ax, "No earnings in the runs")
        return fig
    table = comparison.table(keys).set_index(["variant", "metric"])
    colors = _variant_colors(comparison)
    width = 0.8 / len(variants)
    groups = np.arange(len(keys))
    for i, variant in enumerate(variants):
        rows = table.loc[variant].reindex(keys)
        ax.bar(
            groups - 0.4 + (i + 0.5) * width,
            rows["mean"].to_numpy(float),
            width=width,
            yerr=error_bars(rows),
            capsize=2,
            color=colors[variant],
            edgecolor="white",
            linewidth=0.5,
            label=variant + (" (baseline)" if comparison.is_baseline(variant) else ""),
        )
    ax.set_xticks(groups, labels)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        title=f"Bars: {_interval_note(comparison)}",
        title_fontsize="small",
    )
    return fig


def latency_overlay(comparison: Comparison, ax: Axes | None = None) -> Figure:
    """Empirical distribution of claim latency (release to claim) of every variant overlaid,
    replication 0 (the same task arrivals in every variant), on a log time axis; the baseline
    is drawn thicker. Needs the latencies a comparison keeps with ``latencies=True``."""
    fig, ax = figure_and_axes(ax, (7.5, 5.0))
    colors = _variant_colors(comparison)
    curves = [(variant, comparison.latencies.get(variant, []), colors[variant],
               2.4 if comparison.is_baseline(variant) else 1.4)
              for variant in comparison.variants]
    latency_curves(ax, curves, "No claimed tasks (or latencies not kept)",
                   "How fast tasks are claimed, by variant (replication 0)")
    return fig


def winners_losers(comparison: Comparison, ax: Axes | None = None, currency: str = "EUR"
                   ) -> Figure:
    """Per profile, the paired difference of mean monthly earnings per worker between each
    variant and its baseline, with its interval: green bars gain, red bars lose; pale bars
    are not significant."""
    prefix = "monthly_earnings_mean."
    profiles = [m.removeprefix(prefix) for m in comparison.metrics if m.startswith(prefix)]
    others = [v for v in comparison.variants if not comparison.is_baseline(v)]
    rows_needed = max(1, len(profiles) * max(1, len(others)))
    fig, ax = figure_and_axes(ax, (7.5, max(3.2, 0.45 * rows_needed + 1.8)))
    ax.set(xlabel=f"Change in mean monthly earnings per worker ({currency}), paired "
                  "difference to the baseline",
           title="Winners and losers by profile")
    if not profiles or not others or not len(comparison.runs):
        no_data(ax, "Needs a baseline, another variant and profile earnings")
        return fig
    keys = [prefix + p for p in profiles]
    paired = comparison.paired(metrics=keys).set_index(["variant", "metric"])
    alpha = 1 - comparison.level
    height = 0.8 / len(others)
    y = np.arange(len(profiles))
    for i, variant in enumerate(others):
        rows = paired.loc[variant].reindex(keys)
        diff = rows["mean_diff"].to_numpy(float)
        err = np.abs(np.vstack([diff - rows["ci_low"].to_numpy(float),
                                rows["ci_high"].to_numpy(float) - diff]))
        significant = (rows["p_value"] < alpha).to_numpy()
        colors = [to_rgba(GAIN if d >= 0 else LOSS, 1.0 if s else 0.35)
                  for d, s in zip(diff, significant, strict=True)]
        where = y - 0.4 + (i + 0.5) * height
        ax.barh(where, np.nan_to_num(diff), height=height, xerr=np.nan_to_num(err),
                color=colors, edgecolor="white", capsize=2, ecolor="0.3")
        if len(others) > 1:
            for pos in where:
                ax.text(0, pos, f" {variant}", va="center", fontsize="x-small", color="0.3")
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_yticks(y, profiles)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.text(0.99, 0.01, f"Bars: mean paired difference; lines: {_interval_note(comparison)}; "
            "pale: not significant", transform=ax.transAxes, ha="right", va="bottom",
            fontsize="x-small", color="0.4")
    return fig
