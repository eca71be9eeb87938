"""Plain-text reports for people: a run's summary table, a scenario in words, a comparison.

Used by the ``microwork`` command (and handy in notebooks); pure functions returning strings,
so the model core stays free of printing.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sim.analysis.metrics import PROFILE_KEYS
from sim.foundation.units import WEEKDAYS as DAYS
from sim.foundation.units import format_duration
from sim.results.run_result import RunResult
from sim.scenario.allocation import RULE_PARAMS as RULES
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison

NA = "n/a"
WIDTH = 88


# --------------------------------------------------------------------------- formatting


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def money(value: Any, currency: str) -> str:
    """Money with thousands separators, two decimals and the currency code ("1,234.50 EUR")."""
    return f"{value:,.2f} {currency}" if _finite(value) else NA


def percent(value: Any) -> str:
    """A share in [0, 1] as a percentage with one decimal ("12.5%")."""
    return f"{100 * value:.1f}%" if _finite(value) else NA


def short_percent(value: Any) -> str:
    """A share in [0, 1] as a short percentage for prose ("50%", "12.5%")."""
    return f"{100 * value:.3g}%" if _finite(value) else NA


def duration(value: Any) -> str:
    """Seconds in the largest readable unit (see :func:`sim.durations.format_duration`)."""
    return format_duration(float(value)) if _finite(value) else NA


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    return f"{value:,.0f}" if _finite(value) else NA


def number(value: Any, digits: int = 3) -> str:
    """A plain number with ``digits`` significant digits (indices such as Gini, HHI)."""
    return f"{value:.{digits}g}" if _finite(value) else NA


def minutes(value: Any) -> str:
    """A number of minutes, whole above ten ("1,234 min", "4.5 min")."""
    if not _finite(value):
        return NA
    return f"{value:,.0f} min" if abs(value) >= 10 else f"{value:.2g} min"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Render rows as an aligned text table: first column left-aligned, the others right."""
    cells = [list(header), *(list(r) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


# --------------------------------------------------------------------------- run summary


def _profile_names(result: RunResult) -> list[str]:
    """Profiles that appear in the summary, in the scenario's order (others after, sorted)."""
    found = {
        key.partition(".")[2]
        for key in result.summary
        if key.partition(".")[0] in PROFILE_KEYS and "." in key
    }
    ordered = [name for name in result.scenario.profiles if name in found]
    return ordered + sorted(found - set(ordered))


def format_summary(result: RunResult) -> str:
    """The headline metrics of a run (with units) followed by a per-profile table, as text."""
    s, cur = result.summary, result.scenario.currency
    scn = result.scenario
    wall = result.stats.get("wall_time")
    title = (
        f"{scn.name}: seed {result.seed}, {duration(scn.horizon)} simulated, "
        f"{count(s.get('workers'))} workers"
        + (f" ({wall:.2f} s of computing)" if _finite(wall) else "")
    )

    def stats(prefix: str, fmt: Any) -> str:
        return " / ".join(fmt(s.get(f"{prefix}_{k}")) for k in ("mean", "median", "p90", "p99"))

    rows = [
        ("Tasks released", count(s.get("tasks_released"))),
        ("Tasks claimed", count(s.get("tasks_claimed"))),
        ("Fill rate (claimed before expiry)", percent(s.get("fill_rate"))),
        ("Claim latency mean / median / p90 / p99", stats("claim_latency", duration)),
        (
            f"Monthly earnings mean / median / p90 / p99 ({cur})",
            stats("monthly_earnings", lambda v: money(v, cur).removesuffix(f" {cur}")),
        ),
        ("Earnings Gini", number(s.get("earnings_gini"), 2)),
        (
            "Earnings share of top 1% / top 10%",
            " / ".join(percent(s.get(k)) for k in ("earnings_top1_share", "earnings_top10_share")),
        ),
        ("Workers with zero earnings", percent(s.get("zero_earnings_share"))),
        ("Median hourly pay, paid work only", money(s.get("hourly_paid_median"), f"{cur}/h")),
        ("Median hourly pay, all time online", money(s.get("hourly_effective_median"), f"{cur}/h")),
        (
            "Unpaid minutes per paid hour",
            minutes(s.get("unpaid_minutes_per_paid_hour")),
        ),
        ("Tasks done by the top 10% of workers", percent(s.get("top10_task_share"))),
        ("HHI of tasks across workers", number(s.get("tasks_hhi"))),
    ]
    headline = table(("Metric", "Value"), rows, indent="  ")

    profile_rows = []
    for name in _profile_names(result):

        def get(metric: str, name: str = name) -> Any:
            return s.get(f"{metric}.{name}")

        profile_rows.append(
            (
                name,
                percent(get("population_share")),
                percent(get("earnings_share")),
                money(get("monthly_earnings_mean"), cur).removesuffix(f" {cur}"),
                money(get("monthly_earnings_median"), cur).removesuffix(f" {cur}"),
                duration(get("claim_latency_median")),
                money(get("hourly_paid_median"), cur).removesuffix(f" {cur}"),
                money(get("hourly_effective_median"), cur).removesuffix(f" {cur}"),
            )
        )
    header = (
        "Profile",
        "Workers",
        "Earnings",
        "Mean/month",
        "Median/month",
        "Latency",
        "Paid/h",
        "Effective/h",
    )
    parts = [title, "", headline]
    if not s.get("tasks_released"):
        parts += ["", "  No task was posted in this run: metrics that need tasks are n/a "
                      "(NaN in summary.json)."]
    if profile_rows:
        parts += [
            "",
            f"  By profile (money in {cur}; shares of the workers and of all earnings; median",
            "  claim latency of the tasks the profile won; median hourly pay of its workers,",
            "  per hour of paid work and per hour online):",
            table(header, profile_rows, indent="  "),
        ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- scenario in words


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _days(days: Sequence[str]) -> str:
    chosen = set(days)
    if chosen == set(DAYS):
        return "every day"
    if chosen == set(DAYS[:5]):
        return "on weekdays"
    if chosen == set(DAYS[5:]):
        return "at weekends"
    return "on " + ", ".join(d for d in DAYS if d in chosen)


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _mean(dist: Any) -> float:
    try:
        return float(dist.mean())
    except (AttributeError, TypeError, ValueError):
        return math.nan


def _discovery(option: Any) -> str:
    mode = getattr(option, "mode", "?")
    if mode == "notification":
        return f"notifications, reacting in {duration(_mean(option.reaction))} on average"
    interval = getattr(option, "interval", None)
    every = duration(_mean(interval))
    if mode == "script":
        return f"an auto-accept script checking every {every}"
    kind = "periodically" if getattr(interval, "dist", "") == "constant" else "at random"
    return f"refreshing {kind}, every {every} on average"


def _availability(profile: Any) -> str:
    if profile.always_online:
        return "always online"
    if not profile.sessions:
        return "never online"
    parts = []
    for session in profile.sessions:
        text = (
            f"{_days(session.days)} from about {_clock(_mean(session.start))} "
            f"for {duration(_mean(session.duration))}"
        )
        if session.probability < 1:
            text += f" ({short_percent(session.probability)} of those days)"
        parts.append(text)
    return "online " + " and ".join(parts)


def _profile(name: str, profile: Any) -> str:
    options = profile.discovery
    if len(options) == 1:
        finds = _discovery(options[0])
    else:
        finds = ", ".join(
            f"{short_percent(getattr(o, 'share', math.nan))} {_discovery(o)}" for o in options
        )
    label = f"{name} ({short_percent(profile.share)}"
    if profile.description:
        label += f", {profile.description.rstrip('.')}"
    return f"{label}: {_availability(profile)}, finding tasks by {finds})"


def _task_type(name: str, task: Any, share: float | None, currency: str) -> str:
    if task.reward is not None:
        pay = f"{money(_mean(task.reward), currency)} per task"
    else:
        pay = f"{money(_mean(task.pay_rate), currency)} per hour of effort"
    text = f"{name}"
    if share is not None:
        text += f" {short_percent(share)}"
    text += f" ({pay}, {duration(_mean(task.effort))} of work"
    size = _mean(task.batch_size)
    if math.isinf(size):
        text += ", heavy-tailed batch sizes"
    elif _finite(size) and size != 1:
        text += f", {size:.3g} tasks per batch on average"
    if task.expiry is not None:
        text += f", expires after {duration(task.expiry)}"
    if task.regional:
        text += ", done in a shop of the worker's region"
        if task.travel is not None:
            text += f" with {duration(_mean(task.travel))} of travel"
    return text + ")"


def describe_scenario(scenario: Scenario) -> str:
    """One plain-words paragraph saying what a scenario simulates: workers, profiles and shares,
    horizon, task types, batches per day and the allocation rule."""
    scn, cur = scenario, scenario.currency
    req, plat = scn.requesters, scn.platform
    intro = f"Scenario {scn.name!r}"
    if scn.description:
        intro += f" ({scn.description.strip().rstrip('.')})"
    profiles = "; ".join(_profile(n, p) for n, p in scn.profiles.items())
    sentences = [
        f"{intro} simulates {_plural(scn.workers, 'worker')} over {duration(scn.horizon)} "
        f"({scn.engine} engine), in {_plural(len(scn.profiles), 'profile')}: {profiles}.",
    ]
    if scn.regions:
        sentences.append(
            "Regions: " + ", ".join(f"{r} {short_percent(s)}" for r, s in scn.regions.items()) + "."
        )
    types = "; ".join(_task_type(n, t, req.task_mix.get(n), cur) for n, t in scn.task_types.items())
    sentences.append(
        f"{_plural(req.count, 'requester')} post about {req.batches_per_day:,.4g} batches of "
        f"tasks a day, of {_plural(len(scn.task_types), 'task type')} (share of batches): "
        f"{types}."
    )
    rule = plat.allocation.rule
    described = RULES[rule].description if rule in RULES else ""
    text = f"Tasks are allocated by the {rule!r} rule"
    if described:
        text += f" ({described.split('.')[0].strip()})"
    params = getattr(plat.allocation, "model_extra", None) or {}
    if params:
        text += " with " + ", ".join(f"{key} = {value}" for key, value in params.items())
    text += f"; the platform takes {short_percent(plat.commission)} commission"
    if plat.daily_cap is not None:
        text += f", caps each worker at {plat.daily_cap:,} tasks a day"
    if plat.max_claimed != 1:
        text += f", lets a worker hold {plat.max_claimed} tasks at once"
    if plat.payout_threshold > 0:
        text += f", pays out only above {money(plat.payout_threshold, cur)}"
    sentences.append(text + f"; money is in {cur}.")
    return textwrap.fill(" ".join(sentences), width=WIDTH)


# --------------------------------------------------------------------------- comparisons

COMPARISON_METRICS: tuple[tuple[str, str, str], ...] = (
    ("earnings_gini", "Earnings Gini", "index"),
    ("earnings_top10_share", "Earnings share of the top 10%", "share"),
    ("monthly_earnings_mean", "Monthly earnings, mean", "money"),
    ("monthly_earnings_median", "Monthly earnings, median", "money"),
    ("claim_latency_mean", "Claim latency, mean", "duration"),
    ("claim_latency_median", "Claim latency, median", "duration"),
    ("fill_rate", "Fill rate (claimed before expiry)", "share"),
    ("hourly_effective_median", "Median hourly pay, all time online", "rate"),
    ("unpaid_minutes_per_paid_hour", "Unpaid minutes per paid hour", "minutes"),
)
"""Headline metrics of a comparison (key, label, kind of value), followed in
:func:`comparison_metrics` by the earnings share of each profile."""

PROFILE_SHARE = "earnings_share"
"""Per-profile metric (``earnings_share.<profile>``) added to the comparison's headline."""

OTHER_METRICS: tuple[tuple[str, str, str], ...] = (
    ("workers", "Registered workers", "index"),
    ("tasks_released", "Tasks released", "index"),
    ("tasks_claimed", "Tasks claimed", "index"),
    ("earnings_top1_share", "Earnings share of the top 1%", "share"),
    ("zero_earnings_share", "Workers with zero earnings", "share"),
    ("monthly_earnings_p90", "Monthly earnings, 90th percentile", "money"),
    ("monthly_earnings_p99", "Monthly earnings, 99th percentile", "money"),
    ("claim_latency_p90", "Claim latency, 90th percentile", "duration"),
    ("claim_latency_p99", "Claim latency, 99th percentile", "duration"),
    ("hourly_paid_median", "Median hourly pay, paid work only", "rate"),
    ("top10_task_share", "Tasks done by the top 10% of workers", "share"),
    ("tasks_hhi", "HHI of tasks across workers", "index"),
    ("population_share", "Share of the workers", "share"),
)
"""Labels of the other summary metrics, for tables and plot titles."""

_KINDS = {key: (label, kind) for key, label, kind in COMPARISON_METRICS + OTHER_METRICS}


def comparison_metrics(
    available: Sequence[str], profiles: Sequence[str] | None = None
) -> list[str]:
    """The headline metrics of a comparison that are among ``available`` (summary keys), in
    display order: :data:`COMPARISON_METRICS`, then ``earnings_share.<profile>`` per profile
    (``profiles`` order, the other profiles found in ``available`` after them, sorted)."""
    present = set(available)
    found = sorted(k.partition(".")[2] for k in available if k.startswith(f"{PROFILE_SHARE}."))
    order = [p for p in profiles or [] if p in found]
    order += [p for p in found if p not in order]
    keys = [key for key, _, _ in COMPARISON_METRICS if key in present]
    return keys + [f"{PROFILE_SHARE}.{name}" for name in order]


def _metric_kind(metric: str) -> tuple[str, str]:
    """Label (without unit) and kind of a comparison metric; per-profile metrics are named
    after their profile, unknown metrics are plain numbers."""
    if metric in _KINDS:
        return _KINDS[metric]
    base, _, profile = metric.partition(".")
    if base == PROFILE_SHARE and profile:
        return f"Earnings share of {profile}", "share"
    if base in _KINDS and profile:
        label, kind = _KINDS[base]
        return f"{label}, {profile}", kind
    return metric, "index"


def metric_kind(metric: str) -> str:
    """Kind of value of a comparison metric: "index", "share", "money", "rate" (money per
    hour), "duration" (seconds) or "minutes"."""
    return _metric_kind(metric)[1]


def metric_label(metric: str, currency: str = "EUR") -> str:
    """Readable name of a summary metric with its unit ("Monthly earnings, mean (EUR)")."""
    label, kind = _metric_kind(metric)
    unit = {"money": f" ({currency})", "rate": f" ({currency}/h)"}.get(kind, "")
    return label + unit


def format_metric(metric: str, value: Any, difference: bool = False) -> str:
    """A value of ``metric`` with its unit (money without the currency, which
    :func:`metric_label` carries); with ``difference``, a signed difference between two values
    (shares in percentage points)."""
    if not _finite(value):
        return NA
    kind = _metric_kind(metric)[1]
    if kind == "share":
        return f"{100 * value:+.2f} pp" if difference else percent(value)
    if kind in ("money", "rate"):
        text = money(value, "").strip()
    elif kind == "duration":
        text = duration(value)
    elif kind == "minutes":
        text = minutes(value)
    else:
        text = number(value)
    return f"+{text}" if difference and value > 0 else text


def p_value(value: Any) -> str:
    """A p-value with three decimals, "<0.001" below."""
    if not _finite(value):
        return NA
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def format_comparison(
    comparison: Comparison,
    currency: str = "EUR",
    profiles: Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """The headline metrics of a :class:`sim.experiment.Comparison` as text: per metric and
    variant, the mean over replications with its interval, and the paired difference to the
    baseline with its interval and p-value, significant differences marked with ``*``."""
    metrics = comparison_metrics(comparison.metrics, profiles)
    level = comparison.level
    own = comparison.table(metrics).set_index(["metric", "variant"])
    paired = comparison.paired(metrics=metrics) if len(comparison.variants) > 1 else None
    diffs = paired.set_index(["metric", "variant"]) if paired is not None else None
    base = comparison.baseline
    alpha = 1 - level

    def interval(metric: str, low: Any, high: Any, difference: bool = False) -> str:
        if not (_finite(low) and _finite(high)):
            return NA
        parts = (format_metric(metric, v, difference) for v in (low, high))
        return "[" + ", ".join(parts) + "]"

    rows, groups = [], []
    for metric in metrics:
        groups.append(metric_label(metric, currency))
        for variant in comparison.variants:
            row = own.loc[(metric, variant)]
            cells = [
                variant,
                format_metric(metric, row["mean"]),
                interval(metric, row["ci_low"], row["ci_high"]),
            ]
            if diffs is not None and variant != base:
                d = diffs.loc[(metric, variant)]
                significant = _finite(d["p_value"]) and d["p_value"] < alpha
                cells += [
                    format_metric(metric, d["mean_diff"], True),
                    interval(metric, d["ci_low"], d["ci_high"], True),
                    p_value(d["p_value"]),
                    "*" if significant else "",
                ]
            elif diffs is not None:
                cells += ["", "", "", ""]
            rows.append(cells)
    pct = f"{100 * level:g}%"
    header: tuple[str, ...] = ("Variant", "Mean", f"{pct} interval")
    if diffs is not None:
        header += (f"Diff. to {base}", f"{pct} interval", "p", "")
    lines = table(header, rows, indent="  ").split("\n")
    body, per_group = lines[:2], len(comparison.variants)
    for i, label in enumerate(groups):
        body += [label, *lines[2 + i * per_group : 2 + (i + 1) * per_group]]
    n_reps = int(comparison.runs["replication"].nunique())
    intro = (title + ": " if title else "") + (
        f"{_plural(len(comparison.variants), 'variant')} x {_plural(n_reps, 'replication')} "
        f"with paired seeds; baseline {base!r}."
    )
    note = f"Mean over replications with its {pct} t interval"
    if diffs is not None:
        note += (
            f"; difference to {base!r} over paired replications with its {pct} interval and "
            f"the paired t-test p-value; * = significant at {100 * alpha:g}%. Shares in %, their "
            "differences in percentage points (pp)"
        )
    note += f"; money in {currency}."
    return "\n".join([textwrap.fill(intro, WIDTH), textwrap.fill(note, WIDTH), "", *body])


# --------------------------------------------------------------------------- calibration


def format_calibration(report: CalibrationReport) -> str:
    """The calibration report as text: fitted, held-out and input targets, each with the
    published value and band, the simulated mean and interval, and the verdict."""
    blocks = []
    titles = {"fitted": "Fitted targets (free parameters were fitted to these)",
              "held_out": "Held-out targets (nothing was fitted to these)",
              "input": "Inputs (set from the published figure)"}
    for role, title in titles.items():
        rows = report.table[report.table["role"] == role]
        if rows.empty:
            continue
        body = [
            [r.id, f"{r.published:.4g} ± {r.tolerance:.3g}", r.unit[:22], f"{r.simulated:.4g}",
             "" if not _finite(r.ci_low) else f"[{r.ci_low:.4g}, {r.ci_high:.4g}]",
             "yes" if r.within else "NO"]
            for r in rows.itertuples()
        ]
        header = ["target", "published", "unit", "simulated", "95% interval", "within"]
        blocks.append(f"{title}:\n{table(header, body, indent='  ')}")
    verdict = "all fitted targets and inputs within tolerance" if report.ok else (
        "SOME FITTED TARGETS OR INPUTS ARE OUT OF THEIR BAND")
    return f"Calibration of {report.scenario}: {verdict}\n\n" + "\n\n".join(blocks)
