"""The standard figures of a run, drawn from its tables: Lorenz curves of earnings, monthly
earnings and hourly pay by profile, and how fast tasks are claimed.

Each function returns its Figure (the one holding ``ax`` when an Axes is passed in);
:mod:`sim.presentation.figures.registry` lists them with their file names and captions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.analysis import metrics
from sim.presentation.figures.style import (
    ALL_COLOR,
    ALL_LABEL,
    MEAN_MARKER,
    equality_line,
    figure_and_axes,
    latency_curves,
    lorenz_axes,
    no_data,
    profile_colors,
    short_money,
    split_by,
    thin,
)


def lorenz(workers: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Lorenz curves of earnings over all workers (zero earners included) and within each
    profile, against the line of perfect equality, with each curve's Gini in the legend."""
    fig, ax = figure_and_axes(ax, (6.5, 6.0))
    equality_line(ax)
    earnings = workers["earnings"] if "earnings" in workers else pd.Series(dtype=float)
    names = metrics.profiles(workers)
    colors = profile_colors(names)
    curves = [(ALL_LABEL, earnings, ALL_COLOR, 2.2)]
    if names:
        groups = split_by(earnings, workers["profile"], names)
        curves += [(name, grp, colors[name], 1.4) for name, grp in zip(names, groups, strict=True)]
    for label, values, color, width in curves:
        population, share = metrics.lorenz(values)
        if population.size == 0:
            continue
        if metrics.defined(values).sum() == 0:
            ax.plot([], [], color=color, label=f"{label} (n={values.size:,}, no earnings)")
            continue
        population, share = thin(population, share)
        gini = metrics.gini(values)
        ax.plot(
            100 * population,
            100 * share,
            color=color,
            linewidth=width,
            label=f"{label} (n={values.size:,}, Gini {gini:.2f})",
        )
    if earnings.size == 0:
        no_data(ax, "No workers")
    return lorenz_axes(fig, ax, "Lorenz curve of earnings")


def _by_profile(workers: pd.DataFrame, ax: Axes | None, width: float, title: str
                ) -> tuple[Figure, Axes, list[str]]:
    """The Figure and Axes of box plots of all workers and of each profile (``width`` inches
    per group) and the profiles' names; without workers, the Axes says so under ``title``."""
    names = metrics.profiles(workers)
    fig, ax = figure_and_axes(ax, (max(6.5, width * (len(names) + 1) + 2), 5.0))
    if len(workers) == 0:
        no_data(ax, "No workers")
        ax.set_title(title)
    return fig, ax, names


def monthly_earnings_by_profile(
    workers: pd.DataFrame, horizon: float, ax: Axes | None = None, currency: str = "EUR"
) -> Figure:
    """Distribution of monthly earnings (30-day month) per profile and overall as box plots
    with mean markers, on a symmetric-log scale because most workers earn little or nothing."""
    fig, ax, names = _by_profile(workers, ax, 1.5, "Monthly earnings by profile")
    if len(workers) == 0:
        return fig
    monthly = metrics.monthly(workers["earnings"].astype(float), horizon)
    groups = [monthly, *(split_by(monthly, workers["profile"], names) if names else [])]
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
        meanprops={**MEAN_MARKER, "markersize": 6},
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
            Line2D([], [], linestyle="none", label="Mean", **MEAN_MARKER),
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
    fig, ax = figure_and_axes(ax, (7.5, 5.0))
    latency = metrics.claim_latency(tasks)
    by_profile = metrics.latency_by_profile(tasks)
    colors = profile_colors(profiles if profiles is not None else by_profile)
    for name in sorted(set(by_profile) - set(colors)):  # winners outside ``profiles``
        colors[name] = f"C{len(colors) % 10}"
    curves = [("All claimed tasks", latency, ALL_COLOR, 2.2)]
    curves += [(name, by_profile[name], colors[name], 1.4) for name in colors if name in by_profile]
    latency_curves(ax, curves, "No claimed tasks",
                   "How fast tasks are claimed, by profile of the winning worker")
    return fig


def hourly_pay(workers: pd.DataFrame, ax: Axes | None = None, currency: str = "EUR") -> Figure:
    """Per profile and overall, paired box plots of pay per hour of paid work (``hourly_paid``)
    and per hour online (``hourly_effective``), medians annotated: shows what unpaid time costs."""
    fig, ax, names = _by_profile(workers, ax, 1.6, "Hourly pay by profile")
    if len(workers) == 0:
        return fig
    measures = (
        ("hourly_paid", "Per hour of paid work", "C0"),
        ("hourly_effective", "Per hour online (incl. unpaid time)", "C1"),
    )
    labels = [ALL_LABEL, *names]
    for offset, (column, _, color) in zip((-0.2, 0.2), measures, strict=True):
        values = workers[column].astype(float)
        groups = [values, *(split_by(values, workers["profile"], names) if names else [])]
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
                    short_money(float(np.median(sample))),
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


def platform_earnings(registrations: pd.DataFrame, horizon: float, ax: Axes | None = None,
                      currency: str = "EUR", profiles: Sequence[str] | None = None) -> Figure:
    """A market of several platforms: per platform, what its members earned there per month
    (30-day month), stacked by profile, with the number of members under each bar."""
    names = list(profiles) if profiles is not None else sorted(
        str(p) for p in registrations["profile"].dropna().unique())
    platforms = list(registrations["platform"].cat.categories)
    fig, ax = figure_and_axes(ax, (max(6.5, 0.6 * len(platforms) + 3), 5.0))
    earned = (registrations.groupby(["platform", "profile"], observed=False)["earnings"].sum()
              .unstack("profile").reindex(index=platforms, columns=names).fillna(0.0))
    monthly = earned * metrics.monthly(1.0, horizon)  # to a 30-day month
    bottom = np.zeros(len(platforms))
    for name, color in ((n, profile_colors(names)[n]) for n in names):
        ax.bar(np.arange(len(platforms)), monthly[name].to_numpy(), bottom=bottom, color=color,
               alpha=0.7, label=name)
        bottom += monthly[name].to_numpy()
    members = registrations.groupby("platform", observed=False).size().reindex(platforms)
    ax.set_xticks(np.arange(len(platforms)),
                  [f"{p}\n{int(n):,}" for p, n in zip(platforms, members, strict=True)],
                  rotation=90 if len(platforms) > 8 else 0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="Profile")
    ax.set(ylabel=f"Earned there per month, all members ({currency})",
           xlabel="Platform (members)", title="Earnings by platform and profile")
    return fig
