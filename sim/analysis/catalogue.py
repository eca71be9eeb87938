"""The one catalogue of summary metrics: what each is called, in which unit, and how its values
read, for every table, report page and plot of the project.

Every key a result can show is catalogued: the overall metrics
(:data:`~sim.analysis.metrics.SUMMARY_KEYS`), the per-profile ones (``<metric>.<profile>``,
:data:`~sim.analysis.metrics.PROFILE_KEYS`) and the calibration measures (``target.<id>``).
A :class:`Metric` gives a key its words and its :class:`Kind`; a kind (count, share, money,
rate, duration, minutes, index, number) owns its unit and the ONE function that formats its
values and their differences. The terminal, the HTML page and the figures all call
:func:`metric_label` and :func:`format_metric`, so they cannot disagree. Pure functions and
constants, no I/O: presentation reads this module, nothing here draws or prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from sim.analysis.metrics import PROFILE_KEYS, STAT_NAMES
from sim.foundation.units import format_duration

NA = "n/a"
"""How an undefined value (NaN, infinity, missing) reads everywhere."""

TARGET_PREFIX = "target"
"""Calibration measures are summary columns ``target.<id>`` (see :mod:`sim.results.run`)."""


def finite(value: Any) -> bool:
    """True for a real, finite number (bools and NaN are not)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _signed(text: str, value: float) -> str:
    """A difference: ``+`` before a positive value, the minus sign already there otherwise."""
    return f"+{text}" if value > 0 else text


def _minutes(value: float) -> str:
    return f"{value:,.0f} min" if abs(value) >= 10 else f"{value:.2g} min"


@dataclass(frozen=True)
class Kind:
    """A kind of value: its unit and how a value and a difference of two values read."""

    name: str
    unit: str
    """Unit, ``{currency}`` standing for the scenario's currency; empty when the value carries
    its own (``12.5%``, ``3.2h``, ``4.5 min``) or has none."""
    value: Callable[[float], str]
    """Text of a finite value."""
    difference: Callable[[float], str] | None = None
    """Text of a finite difference of two values (default: the value, ``+`` when positive)."""

    def format(self, value: Any, difference: bool = False) -> str:
        """``value`` as text (a signed difference with ``difference``); :data:`NA` when it is
        not a finite number."""
        if not finite(value):
            return NA
        if not difference:
            return self.value(value)
        if self.difference is not None:
            return self.difference(value)
        return _signed(self.value(value), value)


def _number(value: float) -> str:
    """Four significant digits, but whole numbers from 10,000 up (never 1.073e+04)."""
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("count", "", lambda v: f"{v:,.0f}"),
        Kind("share", "", lambda v: f"{100 * v:.1f}%", lambda v: f"{100 * v:+.2f} pp"),
        Kind("money", "{currency}", lambda v: f"{v:,.2f}"),
        Kind("rate", "{currency}/h", lambda v: f"{v:,.2f}"),
        Kind("duration", "", format_duration),
        Kind("minutes", "", _minutes),
        Kind("index", "", lambda v: f"{v:.3g}"),
        Kind("number", "", _number),
    )
}
"""Every kind of value, by name. Money and rates (money per hour) carry their unit in the
label, so that tables stay narrow; shares read as percentages and their differences in
percentage points (pp); durations are seconds in the largest readable unit."""


@dataclass(frozen=True)
class Metric:
    """A summary metric: its key, its words and its kind of value."""

    key: str
    name: str
    """What it is, in words, without unit ("Monthly earnings, mean")."""
    kind: str
    """A key of :data:`KINDS`."""
    qualified: str = "{name}, {qualifier}"
    """Name of the metric of one profile or one target (``{qualifier}``)."""

    @property
    def unit(self) -> str:
        """The unit of its values, ``{currency}`` standing for the currency."""
        return KINDS[self.kind].unit

    @property
    def label(self) -> str:
        """Its name with the unit when the values do not carry it ("Monthly earnings, mean
        ({currency})")."""
        return self.name + (f" ({self.unit})" if self.unit else "")


def _family(prefix: str, words: str, kind: str) -> list[Metric]:
    """The four distribution statistics (:data:`STAT_NAMES`) of one quantity."""
    stats = {"mean": "mean", "median": "median", "p90": "90th percentile",
             "p99": "99th percentile"}
    return [Metric(f"{prefix}_{stat}", f"{words}, {stats[stat]}", kind) for stat in STAT_NAMES]


METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric("workers", "Registered workers", "count"),
        Metric("tasks_released", "Tasks released", "count"),
        Metric("tasks_claimed", "Tasks claimed", "count"),
        Metric("fill_rate", "Fill rate (claimed before expiry)", "share"),
        Metric("earnings_gini", "Earnings Gini", "index"),
        Metric("earnings_top1_share", "Earnings share of the top 1%", "share"),
        Metric("earnings_top10_share", "Earnings share of the top 10%", "share"),
        Metric("zero_earnings_share", "Workers with zero earnings", "share"),
        *_family("monthly_earnings", "Monthly earnings", "money"),
        *_family("claim_latency", "Claim latency", "duration"),
        Metric("hourly_paid_median", "Median hourly pay, paid work only", "rate"),
        Metric("hourly_effective_median", "Median hourly pay, all time online", "rate"),
        Metric("unpaid_minutes_per_paid_hour", "Unpaid minutes per paid hour", "minutes"),
        Metric("top10_task_share", "Tasks done by the top 10% of workers", "share"),
        Metric("tasks_hhi", "HHI of tasks across workers", "index"),
        Metric("earnings_share", "Earnings share", "share", "{name} of {qualifier}"),
        Metric("population_share", "Share of the workers", "share"),
        Metric(TARGET_PREFIX, "Calibration target", "number", "{name} {qualifier}"),
    )
}
"""Every catalogued metric by key: the overall summary metrics, the bases of the per-profile
metrics (``earnings_share`` and ``population_share`` exist only per profile) and the base of
the calibration measures (``target``)."""

COMPARISON_KEYS: tuple[str, ...] = (
    "earnings_gini",
    "earnings_top10_share",
    "monthly_earnings_mean",
    "monthly_earnings_median",
    "claim_latency_mean",
    "claim_latency_median",
    "fill_rate",
    "hourly_effective_median",
    "unpaid_minutes_per_paid_hour",
)
"""Headline metrics of a comparison, in display order; :func:`comparison_metrics` follows them
with the earnings share of each profile (:data:`PROFILE_SHARE`)."""

PROFILE_SHARE = "earnings_share"
"""Per-profile metric (``earnings_share.<profile>``) added to a comparison's headline."""


def metric(key: str) -> Metric:
    """The catalogue entry of a key: a summary metric, ``<metric>.<profile>`` named after its
    profile, ``target.<id>`` after its target; an unknown key is a plain number named by
    itself."""
    if key in METRICS:
        return METRICS[key]
    base, dot, qualifier = key.partition(".")
    if dot and qualifier and base in METRICS and (base in PROFILE_KEYS or base == TARGET_PREFIX):
        entry = METRICS[base]
        name = entry.qualified.format(name=entry.name, qualifier=qualifier)
        return Metric(key, name, entry.kind)
    return Metric(key, key, "number")


def metric_kind(key: str) -> str:
    """Kind of value of a metric (a key of :data:`KINDS`)."""
    return metric(key).kind


def metric_label(key: str, currency: str = "EUR") -> str:
    """Readable name of a metric with its unit ("Monthly earnings, mean (EUR)")."""
    entry = metric(key)
    return entry.name + (f" ({entry.unit.format(currency=currency)})" if entry.unit else "")


def format_metric(key: str, value: Any, difference: bool = False) -> str:
    """A value of a metric with its unit (money without the currency, which
    :func:`metric_label` carries); with ``difference``, a signed difference between two values
    (shares in percentage points); :data:`NA` when undefined."""
    return KINDS[metric(key).kind].format(value, difference)


def comparison_metrics(available: Sequence[str],
                       profiles: Sequence[str] | None = None) -> list[str]:
    """The headline metrics of a comparison that are among ``available`` (summary keys), in
    display order: :data:`COMPARISON_KEYS`, then ``earnings_share.<profile>`` per profile
    (``profiles`` order, the other profiles found in ``available`` after them, sorted)."""
    present = set(available)
    prefix = f"{PROFILE_SHARE}."
    found = sorted(k.removeprefix(prefix) for k in available if k.startswith(prefix))
    order = [p for p in profiles or [] if p in found]
    order += [p for p in found if p not in order]
    return [key for key in COMPARISON_KEYS if key in present] + [prefix + p for p in order]
