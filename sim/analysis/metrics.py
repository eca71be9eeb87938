"""Headline metrics of a microwork run: pure functions on the result tables, no I/O.

Definitions follow ``docs/results-contract.md`` (the tables, the summary keys and what each means).
Conventions shared by every function here:

* NaN entries of an input (undefined observations, e.g. ``hourly_paid`` of a worker who did
  no paid work) are ignored; an empty input, or a ratio whose denominator is zero, gives NaN.
* Quantiles use numpy's default linear interpolation (``numpy.quantile(method="linear")``).
* Shares are fractions in [0, 1], not percentages; the HHI is on the 1/n..1 scale.
* The Gini of a population in which nobody earns anything is 0.0 (perfect equality), and its
  Lorenz curve is the diagonal; a top share of a zero total is NaN (0/0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from sim.foundation.units import MONTH

STAT_NAMES = ("mean", "median", "p90", "p99")
"""Keys of :func:`distribution_stats` and :func:`latency_stats`, in order."""

_QUANTILES = (0.5, 0.9, 0.99)

_Scalable = TypeVar("_Scalable", float, np.ndarray, pd.Series)

SUMMARY_KEYS = (
    "workers",
    "tasks_released",
    "tasks_claimed",
    "fill_rate",
    "earnings_gini",
    "earnings_top1_share",
    "earnings_top10_share",
    "zero_earnings_share",
    *(f"monthly_earnings_{stat}" for stat in STAT_NAMES),
    *(f"claim_latency_{stat}" for stat in STAT_NAMES),
    "hourly_paid_median",
    "hourly_effective_median",
    "unpaid_minutes_per_paid_hour",
    "top10_task_share",
    "tasks_hhi",
)
"""Overall keys of :func:`summarize`, in the order they appear in the returned dict."""

PROFILE_KEYS = (
    "monthly_earnings_mean",
    "monthly_earnings_median",
    "earnings_share",
    "population_share",
    "claim_latency_mean",
    "claim_latency_median",
    "hourly_paid_median",
    "hourly_effective_median",
)
"""Per-profile metrics of :func:`summarize`; each appears as ``f"{metric}.{profile}"``."""


# --------------------------------------------------------------------------- helpers


def defined(values: ArrayLike) -> NDArray[np.float64]:
    """Return ``values`` as a flat float array without NaN, so that every metric (and plot) sees
    only defined observations (pandas nullable ``<NA>`` counts as NaN)."""
    if isinstance(values, (pd.Series, pd.Index)):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(values, dtype=np.float64)
    arr = arr.ravel()
    return arr[~np.isnan(arr)]


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Return column ``name`` of ``frame``; an empty frame without that column yields an empty
    float Series so that empty results never raise, while a malformed non-empty one still does."""
    if name in frame.columns:
        return frame[name]
    if len(frame) == 0:
        return pd.Series(np.empty(0), index=frame.index, dtype=np.float64, name=name)
    raise KeyError(f"result table has no column {name!r}")


def _top_count(n: int, fraction: float) -> int:
    """Number of members in the top ``fraction`` of ``n``: ceil(fraction * n), at least one;
    rounding first keeps float noise (0.07 * 100 = 7.000000000000001) from adding a member."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return min(n, max(1, math.ceil(round(fraction * n, 9))))


def _prefixed(prefix: str, stats: Mapping[str, float]) -> dict[str, float]:
    """Prefix the keys of a statistics dict (``mean`` -> ``claim_latency_mean``) so nested
    results flatten into the summary's naming scheme."""
    return {f"{prefix}_{key}": value for key, value in stats.items()}


# ------------------------------------------------------------------ distributions


def distribution_stats(values: ArrayLike) -> dict[str, float]:
    """Mean, median, 90th and 99th percentile of ``values`` (NaN-ignoring); the one place the
    project's percentile summaries are computed, for earnings and latencies alike."""
    x = defined(values)
    if x.size == 0:
        return dict.fromkeys(STAT_NAMES, math.nan)
    median, p90, p99 = np.quantile(x, _QUANTILES)
    return {"mean": float(x.mean()), "median": float(median), "p90": float(p90), "p99": float(p99)}


def median(values: ArrayLike) -> float:
    """Median of the defined (non-NaN) ``values``, NaN if there are none; used for hourly pay,
    which is undefined for workers without (paid) time."""
    x = defined(values)
    return float(np.median(x)) if x.size else math.nan


def quantile(values: ArrayLike, q: float) -> float:
    """The ``q`` quantile of the defined (non-NaN) ``values``, NaN if there are none."""
    x = defined(values)
    return float(np.quantile(x, q)) if x.size else math.nan


def gini(values: ArrayLike) -> float:
    """Gini coefficient of ``values`` (earnings of all workers, zero earners included), measuring
    how unequally the total is spread: 0 = everyone equal, (n-1)/n = one member has all.

    Standard sorted formula with n-normalisation: for x sorted ascending and ranks i = 1..n,
    ``G = 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n``. All-zero input gives 0.0; empty, NaN.
    """
    x = defined(values)
    n = x.size
    if n == 0:
        return math.nan
    total = x.sum()
    if total == 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return 2.0 * exact_sum(ranks * np.sort(x)) / (n * total) - (n + 1) / n


def lorenz(values: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lorenz curve of ``values``: cumulative population share (poorest first) against the
    cumulative share of the total they hold, both n+1 points from (0, 0) to (1, 1).

    All-zero input gives the diagonal (consistent with a Gini of 0); empty input, empty arrays.
    """
    x = np.sort(defined(values))
    n = x.size
    if n == 0:
        return np.empty(0), np.empty(0)
    population_share = np.arange(n + 1, dtype=np.float64) / n
    cumulative = np.concatenate(([0.0], np.cumsum(x)))
    if cumulative[-1] == 0:
        return population_share, population_share.copy()
    earnings_share = cumulative / cumulative[-1]
    earnings_share[-1] = 1.0  # exact endpoint despite rounding in the cumulative sum
    return population_share, earnings_share


def top_share(values: ArrayLike, fraction: float) -> float:
    """Share of the total held by the top ``ceil(fraction * n)`` values (e.g. fraction=0.01 for
    the top-1 % earners' share); NaN when empty or the total is zero."""
    x = defined(values)
    n = x.size
    if n == 0:
        return math.nan
    k = _top_count(n, fraction)
    total = x.sum()
    if total == 0:
        return math.nan
    top = np.partition(x, n - k)[n - k :]  # O(n) selection of the k largest
    return float(top.sum() / total)


def zero_share(values: ArrayLike) -> float:
    """Fraction of values that are exactly zero (e.g. registered workers who earned nothing);
    NaN when empty."""
    x = defined(values)
    return float(np.count_nonzero(x == 0) / x.size) if x.size else math.nan


def monthly(values: _Scalable, horizon_seconds: float) -> _Scalable:
    """Scale totals accumulated over a run of ``horizon_seconds`` to a 30-day month
    (``value * 30 * 86400 / horizon``) so runs of different lengths compare; a non-positive or
    non-finite horizon gives NaN. Lists are returned as float arrays."""
    horizon = float(horizon_seconds)
    factor = MONTH / horizon if math.isfinite(horizon) and horizon > 0 else math.nan
    if isinstance(values, (pd.Series, np.ndarray)):
        return values * factor
    if np.isscalar(values):
        return float(values) * factor
    return np.asarray(values, dtype=np.float64) * factor


# ------------------------------------------------------------------------- tasks


def claim_latency(tasks: pd.DataFrame) -> pd.Series:
    """Claim latency ``claimed_at - released_at`` in seconds of every claimed task (index kept
    from ``tasks``), the waiting time that first-come-first-served allocation produces."""
    claimed_at = _column(tasks, "claimed_at").astype(np.float64)
    released_at = _column(tasks, "released_at").astype(np.float64)
    claimed = claimed_at.notna()
    return (claimed_at[claimed] - released_at[claimed]).rename("claim_latency")


def latency_stats(latencies: ArrayLike) -> dict[str, float]:
    """Mean, median, p90 and p99 of claim latencies (seconds); NaN for each when no task was
    claimed. Same statistics as :func:`distribution_stats`."""
    return distribution_stats(latencies)


def fill_rate(tasks: pd.DataFrame) -> float:
    """Fraction of released tasks (rows of ``tasks``) claimed before they expired; this model
    never claims after expiry, so it equals claimed / released. NaN when nothing was released."""
    if len(tasks) == 0:
        return math.nan
    claimed_at = _column(tasks, "claimed_at").astype(np.float64)
    expires_at = _column(tasks, "expires_at").astype(np.float64)
    filled = claimed_at.notna() & ~(claimed_at > expires_at)  # NaN expiry = never expires
    return float(filled.sum() / len(tasks))


def winner_profiles(tasks: pd.DataFrame, workers: pd.DataFrame | None = None) -> pd.Series:
    """Profile of the worker who claimed each task (NaN if unclaimed), from the ``winner_profile``
    column, or looked up from ``workers`` when a tasks table lacks that column."""
    if "winner_profile" in tasks.columns or len(tasks) == 0 or workers is None:
        return _column(tasks, "winner_profile")
    by_id = pd.Series(_column(workers, "profile").to_numpy(), index=_column(workers, "worker_id"))
    return _column(tasks, "worker_id").map(by_id).rename("winner_profile")


def latency_by_profile(
    tasks: pd.DataFrame, workers: pd.DataFrame | None = None,
    latencies: pd.Series | None = None,
) -> dict[str, pd.Series]:
    """Claim latencies (as :func:`claim_latency`, or ``latencies`` when already computed) split
    by the winner's profile, in order of profile name; profiles that won nothing are absent.
    ``workers`` is only needed when ``tasks`` lacks ``winner_profile``. Split on the
    categorical profile's codes: no per-task object array, which at full size (millions of
    tasks) was most of the summary's memory."""
    latencies = claim_latency(tasks) if latencies is None else latencies
    claimed = _column(tasks, "claimed_at").notna().to_numpy()
    winners = winner_profiles(tasks, workers)
    if not isinstance(winners.dtype, pd.CategoricalDtype):  # e.g. looked up from ``workers``
        winners = winners.astype("category")
    codes = winners.cat.codes.to_numpy()[claimed]
    names = [str(c) for c in winners.cat.categories]
    out: dict[str, pd.Series] = {}
    for code in sorted(range(len(names)), key=names.__getitem__):
        mine = codes == code
        if mine.any():
            out[names[code]] = latencies[mine]
    return out


# ----------------------------------------------------------------------- workers


def tasks_done(workers: pd.DataFrame) -> pd.Series:
    """Tasks each worker completed and submitted (approved + rejected): the work counted by the
    concentration metrics, zero for workers who did none."""
    approved = _column(workers, "tasks_approved").astype(np.float64)
    rejected = _column(workers, "tasks_rejected").astype(np.float64)
    return (approved + rejected).rename("tasks_done")


def hhi(counts: ArrayLike) -> float:
    """Herfindahl-Hirschman index of ``counts`` (e.g. tasks done per worker): sum of squared
    shares, from 1/n (equal shares) to 1 (one member does everything); NaN if the total is 0."""
    x = defined(counts)
    total = x.sum()
    if x.size == 0 or total == 0:
        return math.nan
    shares = x / total
    return exact_sum(shares * shares)


def exact_sum(x: NDArray[np.float64]) -> float:
    """The correctly rounded sum of ``x`` (``math.fsum``): the same float on every machine.

    A dot product (``np.dot``) goes to BLAS, whose kernel is chosen for the CPU at run time
    and adds in its own order: the Gini and HHI of the same run differed in the last bit
    between an AVX2 and an AVX-512 machine, which broke the regression digests.
    """
    return math.fsum(x.tolist())


def top_task_share(counts: ArrayLike, fraction: float = 0.1) -> float:
    """Share of all tasks done by the top ``fraction`` of workers ranked by tasks done; pass the
    counts of every registered worker (zeros included) so the top 10 % is of the population."""
    return top_share(counts, fraction)


def unpaid_minutes_per_paid_hour(workers: pd.DataFrame) -> float:
    """Minutes of unpaid online time (watching, searching, unpaid work) per hour of paid work,
    pooled over workers: ``60 * sum(unpaid_time) / sum(work_time)``; NaN without paid work."""
    work = defined(_column(workers, "work_time")).sum()
    unpaid = defined(_column(workers, "unpaid_time")).sum()
    return float(60.0 * unpaid / work) if work > 0 else math.nan


# ----------------------------------------------------------------------- summary


def _profile_metrics(
    group: pd.DataFrame,
    latencies: pd.Series,
    horizon: float,
    total_earnings: float,
    population: int,
) -> dict[str, float]:
    """The per-profile metrics (:data:`PROFILE_KEYS`) of one profile's workers and of the
    latencies of the tasks they won, computed with the same functions as the overall ones."""
    earnings = _column(group, "earnings").astype(np.float64)
    earnings_stats = distribution_stats(monthly(earnings, horizon))
    latency = latency_stats(latencies)
    return {
        "monthly_earnings_mean": earnings_stats["mean"],
        "monthly_earnings_median": earnings_stats["median"],
        "earnings_share": (
            float(defined(earnings).sum() / total_earnings) if total_earnings > 0 else math.nan
        ),
        "population_share": len(group) / population,
        "claim_latency_mean": latency["mean"],
        "claim_latency_median": latency["median"],
        "hourly_paid_median": median(_column(group, "hourly_paid")),
        "hourly_effective_median": median(_column(group, "hourly_effective")),
    }


def profiles(workers: pd.DataFrame) -> list[str]:
    """Sorted profile names present in ``workers``: the order of per-profile summary keys and of
    profiles in the plots."""
    return sorted(str(p) for p in _column(workers, "profile").dropna().unique())


def summarize(tasks: pd.DataFrame, workers: pd.DataFrame, horizon: float) -> dict[str, float]:
    """Headline metrics of one run as a flat dict of floats: :data:`SUMMARY_KEYS`, then
    ``f"{metric}.{profile}"`` for each metric of :data:`PROFILE_KEYS` and each profile (sorted).

    ``horizon`` is the run length in seconds (for monthly scaling). Values are NaN where
    undefined (e.g. latency with no claimed task); counts are returned as floats too.
    """
    earnings = _column(workers, "earnings").astype(np.float64)
    latencies = claim_latency(tasks)
    done = tasks_done(workers)
    summary: dict[str, float] = {
        "workers": float(len(workers)),
        "tasks_released": float(len(tasks)),
        "tasks_claimed": float(latencies.size),
        "fill_rate": fill_rate(tasks),
        "earnings_gini": gini(earnings),
        "earnings_top1_share": top_share(earnings, 0.01),
        "earnings_top10_share": top_share(earnings, 0.10),
        "zero_earnings_share": zero_share(earnings),
        **_prefixed("monthly_earnings", distribution_stats(monthly(earnings, horizon))),
        **_prefixed("claim_latency", latency_stats(latencies)),
        "hourly_paid_median": median(_column(workers, "hourly_paid")),
        "hourly_effective_median": median(_column(workers, "hourly_effective")),
        "unpaid_minutes_per_paid_hour": unpaid_minutes_per_paid_hour(workers),
        "top10_task_share": top_task_share(done, 0.10),
        "tasks_hhi": hhi(done),
    }

    names = profiles(workers)
    if names:
        latency_groups = latency_by_profile(tasks, workers, latencies)
        worker_groups = {str(key): group for key, group in workers.groupby("profile")}
        total = float(defined(earnings).sum())
        empty = pd.Series(np.empty(0), dtype=np.float64)
        per_profile = {
            name: _profile_metrics(
                worker_groups[name], latency_groups.get(name, empty), horizon, total, len(workers)
            )
            for name in names
        }
        for metric in PROFILE_KEYS:
            for name in names:
                summary[f"{metric}.{name}"] = per_profile[name][metric]

    return {key: float(value) for key, value in summary.items()}


def summary_keys(profile_names: Iterable[str]) -> list[str]:
    """All keys :func:`summarize` returns for the given profiles, in order; useful to build
    empty result tables or check completeness."""
    names = sorted(str(p) for p in profile_names)
    return [*SUMMARY_KEYS, *(f"{metric}.{name}" for metric in PROFILE_KEYS for name in names)]
