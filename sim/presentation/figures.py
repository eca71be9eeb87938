"""Standard figures of a microwork run and of a comparison, on ``matplotlib.figure.Figure``.

No pyplot global state is used and nothing is shown; every function returns its Figure (the
one holding ``ax`` when an Axes is passed in), and only :func:`save_run_plots` and
:func:`save_comparison_plots` write files.
Profiles get the same colour in every figure (sorted profile names mapped onto the colour
cycle); large tables are thinned to a few thousand plotted points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from sim.analysis import metrics

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison

DPI = 110
ALL_LABEL = "All workers"
ALL_COLOR = "black"
MAX_POINTS = 2_000
LATENCY_FLOOR = 0.1
"""Claim latencies below this many seconds are drawn at it (a log axis cannot show 0)."""

_DURATION_TICKS = (0.1, 1.0, 10.0, 60.0, 600.0, 3_600.0, 6 * 3_600.0, 86_400.0, 7 * 86_400.0)
"""Major tick positions (seconds) of time axes: 0.1 s, 1 s, 10 s, 1 min, 10 min, 1 h, 6 h, 1 day,
7 days."""
_MEAN_MARKER = {"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"}


# --------------------------------------------------------------------------- helpers


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """Use the caller's Axes (and its root Figure) or make a fresh Figure, so every plot can be
    embedded in a larger layout or stand alone."""
    if ax is not None:
        return ax.get_figure(root=True), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def profile_colors(profile_names: Iterable[str]) -> dict[str, str]:
    """Colour of each profile (sorted names onto the colour cycle ``C0``, ``C1``, ...), so a
    profile looks the same in every figure."""
    names = sorted({str(name) for name in profile_names})
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def _groups(values: pd.Series, labels: pd.Series, names: Sequence[str]) -> list[pd.Series]:
    """Split ``values`` by ``labels`` into one Series per name in ``names`` (empty when a name
    has no rows), vectorised via a single groupby."""
    by_label = {str(key): group for key, group in values.groupby(labels.to_numpy(dtype=object))}
    empty = values.iloc[:0]
    return [by_label.get(name, empty) for name in names]


def _thin(
    x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``max_points`` evenly spaced points of a monotone curve (ends included), so
    curves of 300,000 workers plot quickly and look the same."""
    if x.size <= max_points:
        return x, y
    index = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(np.int64))
    return x[index], y[index]


def _no_data(ax: Axes, message: str) -> None:
    """Say so on the Axes instead of drawing an empty frame when there is nothing to plot."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


def format_duration(seconds: float) -> str:
    """Human-friendly duration label ("45 s", "12 min", "3 h", "2 days") for time axes."""
    if not math.isfinite(seconds):
        return ""
    for size, unit in ((86_400.0, "days"), (3_600.0, "h"), (60.0, "min")):
        if seconds >= size:
            value = seconds / size
            text = f"{value:.0f}" if value >= 10 or value == round(value) else f"{value:.1f}"
            return f"{text} {'day' if unit == 'days' and text == '1' else unit}"
    return f"{seconds:.3g} s"


def _duration_axis(ax: Axes) -> None:
    """Log-scaled x axis with ticks at round durations (1 s, 1 min, 1 h, 1 day ...)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(_DURATION_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_duration(x)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _round_duration_ticks(
    ax: Axes, axis: str = "x", formatter: Callable[[float], str] | None = None
) -> None:
    """Linear time axis (seconds) with ticks at round numbers of the unit that suits its range
    (0, 2 h, 4 h ... rather than 0, 4.17 h ...); call after the data are drawn."""
    which = ax.xaxis if axis == "x" else ax.yaxis
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    span = max(abs(low), abs(high))
    unit = next((size for size in (86_400.0, 3_600.0, 60.0) if span >= 2 * size), 1.0)
    ticks = MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]).tick_values(low / unit, high / unit) * unit
    which.set_major_locator(FixedLocator(ticks[(ticks >= low) & (ticks <= high)]))
    show = formatter or format_duration
    which.set_major_formatter(FuncFormatter(lambda v, _pos: show(v)))


def _money(value: float) -> str:
    """Short money label for annotations (two decimals below 100, none above)."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


# --------------------------------------------------------------------------- figures


def lorenz(workers: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Lorenz curves of earnings over all workers (zero earners included) and within each
    profile, against the line of perfect equality, with each curve's Gini in the legend."""
    fig, ax = _figure_and_axes(ax, (6.5, 6.0))
    ax.plot([0, 100], [0, 100], color="0.6", linestyle=":", linewidth=1, label="Perfect equality")
    earnings = workers["earnings"] if "earnings" in workers else pd.Series(dtype=float)
    names = metrics.profiles(workers)
    colors = profile_colors(names)
    curves = [(ALL_LABEL, earnings, ALL_COLOR, 2.2)]
    if names:
        groups = _groups(earnings, workers["profile"], names)
        curves += [(name, grp, colors[name], 1.4) for name, grp in zip(names, groups, strict=True)]
    for label, values, color, width in curves:
        population, share = metrics.lorenz(values)
        if population.size == 0:
            continue
        if metrics.defined(values).sum() == 0:
            ax.plot([], [], color=color, label=f"{label} (n={values.size:,}, no earnings)")
            continue
        population, share = _thin(population, share)
        gini = metrics.gini(values)
        ax.plot(
            100 * population,
            100 * share,
            color=color,
            linewidth=width,
            label=f"{label} (n={values.size:,}, Gini {gini:.2f})",
        )
    if earnings.size == 0:
        _no_data(ax, "No workers")
    return _lorenz_axes(fig, ax, "Lorenz curve of earnings")


def _lorenz_axes(fig: Figure, ax: Axes, title: str) -> Figure:
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


def monthly_earnings_by_profile(
    workers: pd.DataFrame, horizon: float, ax: Axes | None = None, currency: str = "EUR"
) -> Figure:
    """Distribution of monthly earnings (30-day month) per profile and overall as box plots
    with mean markers, on a symmetric-log scale because most workers earn little or nothing."""
    names = metrics.profiles(workers)
    fig, ax = _figure_and_axes(ax, (max(6.5, 1.5 * (len(names) + 1) + 2), 5.0))
    if len(workers) == 0:
        _no_data(ax, "No workers")
        ax.set_title("Monthly earnings by profile")
        return fig
    monthly = metrics.monthly(workers["earnings"].astype(float), horizon)
    groups = [monthly, *(_groups(monthly, workers["profile"], names) if names else [])]
    labels = [ALL_LABEL, *names]
    colors = [ALL_COLOR, *profile_colors(names).values()]
    data = [metrics.defined(values) for values in groups]
    parts = ax.boxplot(
        data,
        tick_labels=[
            f"{label}\nn={len(values):,}\n{metrics.zero_share(values):.0%} earn 0"
            for label, values in zip(labels, data, strict=True)
        ],
        whis=(1, 99),
        showmeans=True,
        meanprops={**_MEAN_MARKER, "markersize": 6},
        flierprops={"marker": ".", "markersize": 2, "alpha": 0.3},
        medianprops={"color": "black"},
        patch_artist=True,
    )
    for box, color in zip(parts["boxes"], colors, strict=True):
        box.set(facecolor=color, alpha=0.35 if color != ALL_COLOR else 0.15)
    ax.set_yscale("symlog", linthresh=1.0)  # linear below one currency unit
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        handles=[
            Line2D([], [], linestyle="none", label="Mean", **_MEAN_MARKER),
            Line2D([], [], color="black", label="Median (box: quartiles, whiskers: 1st-99th pct)"),
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
    )
    ax.set(
        ylabel=f"Earnings per 30-day month ({currency}, symmetric log scale)",
        title="Monthly earnings by worker profile",
    )
    return fig


def latency_cdf(
    tasks: pd.DataFrame, ax: Axes | None = None, profiles: Sequence[str] | None = None
) -> Figure:
    """Empirical cumulative distribution of claim latency (release to claim) over all claimed
    tasks and by the winner's profile, on a log time axis; ``profiles`` fixes the colour
    mapping (pass the workers' profiles to match the other figures)."""
    fig, ax = _figure_and_axes(ax, (7.5, 5.0))
    latency = metrics.claim_latency(tasks)
    by_profile = metrics.latency_by_profile(tasks)
    colors = profile_colors(profiles if profiles is not None else by_profile)
    for name in sorted(set(by_profile) - set(colors)):  # winners outside ``profiles``
        colors[name] = f"C{len(colors) % 10}"
    curves = [("All claimed tasks", latency, ALL_COLOR, 2.2)]
    curves += [(name, by_profile[name], colors[name], 1.4) for name in colors if name in by_profile]
    for label, values, color, width in curves:
        x = np.sort(np.maximum(metrics.defined(values), LATENCY_FLOOR))
        if x.size == 0:
            continue
        y = np.arange(1, x.size + 1) / x.size
        x, y = _thin(x, y)
        median = format_duration(metrics.median(values))
        ax.step(
            np.concatenate(([x[0]], x)),
            np.concatenate(([0.0], y)),
            where="post",
            color=color,
            linewidth=width,
            label=f"{label} (n={values.size:,}, median {median})",
        )
    if latency.size:
        ax.legend(loc="upper left", fontsize="small")
    else:
        _no_data(ax, "No claimed tasks")
    _duration_axis(ax)
    ax.set_ylim(0, 1.0)
    ax.grid(alpha=0.3)
    ax.set(
        xlabel=f"Time from release to claim (log scale; under {LATENCY_FLOOR:g} s drawn at "
        f"{LATENCY_FLOOR:g} s)",
        ylabel="Share of claimed tasks claimed within this time",
        title="How fast tasks are claimed, by profile of the winning worker",
    )
    return fig


def hourly_pay(workers: pd.DataFrame, ax: Axes | None = None, currency: str = "EUR") -> Figure:
    """Per profile and overall, paired box plots of pay per hour of paid work (``hourly_paid``)
    and per hour online (``hourly_effective``), medians annotated: shows what unpaid time costs."""
    names = metrics.profiles(workers)
    fig, ax = _figure_and_axes(ax, (max(6.5, 1.6 * (len(names) + 1) + 2), 5.0))
    if len(workers) == 0:
        _no_data(ax, "No workers")
        ax.set_title("Hourly pay by profile")
        return fig
    measures = (
        ("hourly_paid", "Per hour of paid work", "C0"),
        ("hourly_effective", "Per hour online (incl. unpaid time)", "C1"),
    )
    labels = [ALL_LABEL, *names]
    for offset, (column, _, color) in zip((-0.2, 0.2), measures, strict=True):
        values = workers[column].astype(float)
        groups = [values, *(_groups(values, workers["profile"], names) if names else [])]
        data = [metrics.defined(group) for group in groups]
        positions = np.arange(len(labels)) + offset
        parts = ax.boxplot(
            data,
            positions=positions,
            widths=0.35,
            whis=(5, 95),
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black"},
            manage_ticks=False,
        )
        for box in parts["boxes"]:
            box.set(facecolor=color, alpha=0.5)
        for x, sample in zip(positions, data, strict=True):
            if sample.size:
                ax.annotate(
                    _money(float(np.median(sample))),
                    (x, float(np.median(sample))),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    bbox={
                        "boxstyle": "round,pad=0.15",
                        "facecolor": "white",
                        "alpha": 0.7,
                        "linewidth": 0,
                    },
                )
    with_pay = workers["hourly_paid"].notna()
    counts = [
        int(with_pay.sum()),
        *(int(with_pay[workers["profile"] == name].sum()) for name in names),
    ]
    ax.set_xticks(
        np.arange(len(labels)),
        [f"{label}\n{count:,} with paid work" for label, count in zip(labels, counts, strict=True)],
    )
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        handles=[Patch(facecolor=c, alpha=0.5, label=label) for _, label, c in measures],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        title="Box: quartiles, whiskers: 5th-95th pct,\nlabel: median",
        title_fontsize="small",
    )
    ax.set(
        ylabel=f"Earnings per hour ({currency}/h)",
        title="Hourly pay by profile: paid work only vs all time online",
    )
    return fig


def save_run_plots(
    tasks: pd.DataFrame,
    workers: pd.DataFrame,
    horizon: float,
    directory: str | Path,
    currency: str = "EUR",
) -> list[Path]:
    """Write the four standard figures of a run as PNGs (``lorenz.png``,
    ``monthly_earnings.png``, ``latency_cdf.png``, ``hourly_pay.png``) into ``directory``,
    creating it if needed, and return their paths in that order."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    names = metrics.profiles(workers)
    makers: list[tuple[str, Callable[[], Figure]]] = [
        ("lorenz.png", lambda: lorenz(workers)),
        (
            "monthly_earnings.png",
            lambda: monthly_earnings_by_profile(workers, horizon, None, currency),
        ),
        ("latency_cdf.png", lambda: latency_cdf(tasks, profiles=names)),
        ("hourly_pay.png", lambda: hourly_pay(workers, currency=currency)),
    ]
    if len(tasks) == 0:  # an empty market is a valid result: every figure says so
        makers = [(name, _noting(make, NO_TASKS)) for name, make in makers]
    return _save_all(makers, out)


NO_TASKS = "No task was posted in this run"


def _noting(make: Callable[[], Figure], message: str) -> Callable[[], Figure]:
    """``make`` followed by ``message`` written across the figure's first Axes."""

    def draw() -> Figure:
        fig = make()
        _no_data(fig.axes[0], message)
        return fig

    return draw


def _save_all(makers: list[tuple[str, Callable[[], Figure]]], out: Path) -> list[Path]:
    """Draw each figure and write it as ``out/filename``; return the paths written."""
    paths = []
    for filename, make in makers:
        path = out / filename
        make().savefig(path, dpi=DPI, bbox_inches="tight")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- comparisons


def _variant_colors(comparison: Comparison) -> dict[str, str]:
    """Colour of each variant of a comparison, the same in every comparison figure."""
    return profile_colors(comparison.variants)


def _error_bars(rows: pd.DataFrame) -> np.ndarray:
    """Distances from ``mean`` down to ``ci_low`` and up to ``ci_high`` (2 x n, as
    ``errorbar`` wants them); undefined intervals draw no bar."""
    low = (rows["mean"] - rows["ci_low"]).to_numpy(float)
    high = (rows["ci_high"] - rows["mean"]).to_numpy(float)
    return np.nan_to_num(np.clip(np.vstack([low, high]), 0.0, None), nan=0.0)


def _replications(comparison: Comparison) -> int:
    return int(comparison.runs["replication"].nunique()) if len(comparison.runs) else 0


def _interval_note(comparison: Comparison) -> str:
    return f"{100 * comparison.level:g}% intervals over {_replications(comparison)} replications"


def metric_intervals(
    comparison: Comparison, metrics: Sequence[str] | None = None, currency: str = "EUR"
) -> Figure:
    """One small panel per metric (default: the headline metrics of
    :func:`sim.report.comparison_metrics`) with each variant's mean over replications and its
    interval; the dashed line marks the baseline's mean."""
    from sim.presentation.text import comparison_metrics, format_metric, metric_kind, metric_label

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
        _no_data(axes[0], "No metrics")
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
                xerr=_error_bars(rows.iloc[[i]]),
                fmt="o",
                color=colors[variant],
                capsize=3,
                markersize=5,
            )
        base = rows["mean"].get(comparison.baseline, math.nan)
        if math.isfinite(base):
            ax.axvline(base, color="0.5", linestyle="--", linewidth=1)
        ax.set_title(metric_label(metric, currency), fontsize="medium")
        if metric_kind(metric) == "duration":
            _round_duration_ticks(ax)
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
    fig, ax = _figure_and_axes(ax, (6.5, 6.0))
    ax.plot([0, 100], [0, 100], color="0.6", linestyle=":", linewidth=1, label="Perfect equality")
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
        population, share = _thin(population, share)
        label = f"{variant} (Gini {metrics.gini(values):.3f}"
        if math.isfinite(mean_gini.get(variant, math.nan)):
            label += f"; mean of all runs {mean_gini[variant]:.3f}"
        ax.plot(
            100 * population,
            100 * share,
            color=colors[variant],
            linewidth=2.4 if variant == comparison.baseline else 1.4,
            label=label + ")",
        )
        drawn += 1
    if not drawn:
        _no_data(ax, "No earnings recorded")
    return _lorenz_axes(fig, ax, "Lorenz curves of earnings by variant (replication 0)")


def tradeoff(comparison: Comparison, ax: Axes | None = None) -> Figure:
    """Earnings inequality (Gini) against requester waiting (mean claim latency): one labelled
    point per variant at its means over replications, with interval bars in both directions."""
    fig, ax = _figure_and_axes(ax, (7.0, 5.5))
    needed = ["claim_latency_mean", "earnings_gini"]
    ax.set(
        xlabel="Mean claim latency: how long requesters wait for a taker",
        ylabel="Earnings Gini: inequality among workers",
        title="Trade-off: worker inequality vs requester waiting",
    )
    if not set(needed) <= set(comparison.metrics) or not len(comparison.runs):
        _no_data(ax, "No latency or Gini in the runs")
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
            xerr=_error_bars(x),
            yerr=_error_bars(y),
            fmt="o",
            color=colors[variant],
            capsize=3,
            linewidth=1.2,
            markersize=6,
        )
        if math.isfinite(x["mean"].iloc[0]) and math.isfinite(y["mean"].iloc[0]):
            ax.annotate(
                variant + (" (baseline)" if variant == comparison.baseline else ""),
                (x["mean"].iloc[0], y["mean"].iloc[0]),
                xytext=(5, 5),
                textcoords="offset points",
                fontsize="small",
                color=colors[variant],
            )
    ax.margins(0.15)
    _round_duration_ticks(ax)
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
    fig, ax = _figure_and_axes(ax, (max(6.5, 0.4 * len(keys) * len(variants) + 2.5), 5.0))
    ax.set(
        ylabel=f"Mean earnings per worker per 30-day month ({currency})",
        title="Monthly earnings by profile and variant",
    )
    if not keys or not len(comparison.runs):
        _no_data(ax, "No earnings in the runs")
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
            yerr=_error_bars(rows),
            capsize=2,
            color=colors[variant],
            edgecolor="white",
            linewidth=0.5,
            label=variant + (" (baseline)" if variant == comparison.baseline else ""),
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


def save_comparison_plots(
    comparison: Comparison, directory: str | Path, currency: str = "EUR"
) -> list[Path]:
    """Write the four comparison figures as PNGs (``metric_intervals.png``,
    ``lorenz_overlay.png``, ``tradeoff.png``, ``profile_earnings.png``) into ``directory``,
    creating it if needed, and return their paths in that order."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    makers: list[tuple[str, Callable[[], Figure]]] = [
        ("metric_intervals.png", lambda: metric_intervals(comparison, currency=currency)),
        ("lorenz_overlay.png", lambda: lorenz_overlay(comparison)),
        ("tradeoff.png", lambda: tradeoff(comparison)),
        ("profile_earnings.png", lambda: profile_earnings(comparison, currency=currency)),
    ]
    return _save_all(makers, out)


# --------------------------------------------------------------------------- calibration


def calibration(report: CalibrationReport, ax: Axes | None = None) -> Figure:
    """Simulated against published, one row per target: the simulated mean with its interval
    and the published value's tolerance band, both relative to the published value."""
    rows = report.table.iloc[::-1].reset_index(drop=True)
    fig, ax = _figure_and_axes(ax, (7.5, 0.38 * len(rows) + 1.4))
    scale = rows["published"].where(rows["published"] != 0, 1.0)
    y = np.arange(len(rows))
    ax.barh(y, 2 * rows["tolerance"] / scale, left=(rows["published"] - rows["tolerance"]) / scale,
            height=0.6, color="0.85", label="published value ± tolerance")
    colors = rows["role"].map({"fitted": "C0", "held_out": "C1", "input": "C2"})
    low = ((rows["simulated"] - rows["ci_low"]) / scale).fillna(0)
    high = ((rows["ci_high"] - rows["simulated"]) / scale).fillna(0)
    for role, label in (("fitted", "fitted"), ("held_out", "held out"), ("input", "input")):
        sel = rows["role"] == role
        if sel.any():
            ax.errorbar(rows.loc[sel, "simulated"] / scale[sel], y[sel],
                        xerr=[low[sel], high[sel]], fmt="o", color=colors[sel].iloc[0],
                        capsize=3, label=f"simulated ({label}), 95% interval")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{i}{'' if w else '  ✗'}" for i, w in zip(rows["id"], rows["within"],
                                                                  strict=True)])
    ax.set_xlabel("value relative to the published figure (1 = published)")
    ax.set_title(f"Calibration of {report.scenario}: simulated vs published")
    ax.legend(loc="lower right", fontsize="small")
    return fig
