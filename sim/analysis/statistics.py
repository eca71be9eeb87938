"""Intervals of experiment results: means over replications with t intervals, and paired
differences between variants (common random numbers) with their p-values and, for contrast,
the unpaired (Welch) interval of the same difference.

Replication ``r`` of every variant or point of an experiment runs with the same seed, so two
variants' values of replication ``r`` are a pair: the interval of their mean difference is
computed on the paired differences, which common random numbers make far narrower than the
interval of two independent samples (:func:`welch_interval`, shown alongside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

INTERVAL_COLUMNS = ["metric", "n", "mean", "se", "ci_low", "ci_high"]
"""Columns of :func:`interval_table` after the grouping column."""
PAIRED_COLUMNS = ["variant", "baseline", "metric", "n", "mean_diff", "se", "ci_low", "ci_high",
                  "p_value", "unpaired_ci_low", "unpaired_ci_high"]
"""Columns of :func:`paired_table`."""


def interval(values: np.ndarray, level: float) -> tuple[float, float, float, float]:
    """Mean, standard error and the t-based interval of independent values (NaN ignored)."""
    values = values[~np.isnan(values)]
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    if n < 2:
        return mean, np.nan, np.nan, np.nan
    se = float(values.std(ddof=1) / np.sqrt(n))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * se)
    return mean, se, mean - half, mean + half


def interval_table(runs: pd.DataFrame, by: str, metrics: Iterable[str], level: float = 0.95
                   ) -> pd.DataFrame:
    """Per value of column ``by`` (in order of appearance) and metric: number of runs, mean,
    standard error and the t-based ``level`` interval of the mean over replications."""
    rows = []
    metrics = list(metrics)
    for key, group in runs.groupby(by, sort=False):
        for metric in metrics:
            mean, se, low, high = interval(group[metric].to_numpy(float), level)
            rows.append({by: key, "metric": metric, "n": len(group), "mean": mean, "se": se,
                         "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=[by, *INTERVAL_COLUMNS])


def paired_p_value(diff: np.ndarray) -> float:
    """Two-sided paired t-test p-value of mean difference 0 (constant differences: 0 or 1)."""
    if len(diff) < 2:
        return np.nan
    if np.all(diff == diff[0]):
        return 1.0 if diff[0] == 0 else 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def welch_interval(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float]:
    """Interval of mean(a) - mean(b) treating the samples as independent (Welch)."""
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    if se == 0:
        return 0.0, 0.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    diff = a.mean() - b.mean()
    return float(diff - half), float(diff + half)


def paired_table(runs: pd.DataFrame, baseline: str | Mapping[str, str],
                 variants: Sequence[str], metrics: Iterable[str], level: float = 0.95
                 ) -> pd.DataFrame:
    """Per variant (other than its baseline) and metric: the mean difference to the baseline
    over the replications both have (``runs`` has one row per ``variant`` and
    ``replication``), its standard error, t interval and paired t-test p-value, and the
    unpaired (Welch) interval of the same difference. ``baseline`` is one variant, or each
    variant's own baseline (a mapping)."""
    wide = runs.set_index(["variant", "replication"])
    metrics = list(metrics)
    rows = []
    for variant in variants:
        own = baseline if isinstance(baseline, str) else baseline[variant]
        if variant == own:
            continue
        base, other = wide.loc[own], wide.loc[variant]
        common = base.index.intersection(other.index)
        for metric in metrics:
            a = other.loc[common, metric].to_numpy(float)
            b = base.loc[common, metric].to_numpy(float)
            ok = ~(np.isnan(a) | np.isnan(b))
            diff = a[ok] - b[ok]
            mean, se, low, high = interval(diff, level)
            u_low, u_high = welch_interval(a[ok], b[ok], level)
            rows.append({"variant": variant, "baseline": own, "metric": metric,
                         "n": int(ok.sum()), "mean_diff": mean, "se": se, "ci_low": low,
                         "ci_high": high, "p_value": paired_p_value(diff),
                         "unpaired_ci_low": u_low, "unpaired_ci_high": u_high})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)
