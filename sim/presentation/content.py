"""What results show people, as plain data: tables of formatted strings and report sections.

One function per table builds it once (:func:`headline_table`, :func:`profile_table`,
:func:`comparison_table`, :func:`calibration_table`, :func:`sweep_table`,
:func:`sensitivity_table`), every value and label coming from the metric catalogue
(:mod:`sim.analysis.catalogue`); :mod:`sim.presentation.text` lays these tables out for the
terminal and :mod:`sim.presentation.html` renders them for notebooks and the report page, so
both say the same thing in the same words. Tables are DataFrames of strings, handy in notebooks
too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from sim.analysis.catalogue import (
    KINDS,
    NA,
    comparison_metrics,
    finite,
    format_metric,
    metric,
    metric_label,
)
from sim.analysis.metrics import PROFILE_KEYS

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison
    from sim.results.run_result import RunResult

# --------------------------------------------------------------------------- building blocks


@dataclass(frozen=True)
class Table:
    """A table of formatted strings with an optional caption; with ``group``, that column is
    shown as a heading over each run of equal values (long metric-by-variant tables)."""

    frame: pd.DataFrame
    caption: str = ""
    group: str | None = None


@dataclass(frozen=True)
class Picture:
    """A figure as a PNG image, with its file name and caption."""

    name: str
    caption: str
    png: bytes


@dataclass
class Section:
    """A part of a report: a heading, then paragraphs, tables, collapsed preformatted blocks
    (summary, text) and pictures, in that order."""

    heading: str
    anchor: str = ""
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)


def plural(n: int, word: str) -> str:
    """``n`` with ``word``, plural unless one ("3 variants", "1 replication")."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def grid_value(value: Any) -> str:
    """A value of a swept or sampled parameter: ``none`` for null or NaN, floats short."""
    if value is None or (isinstance(value, float) and not finite(value)):
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def percent_level(level: float) -> str:
    """An interval level as a percentage ("95%")."""
    return f"{100 * level:g}%"


def interval(key: str, low: Any, high: Any, difference: bool = False) -> str:
    """``[low, high]`` of a metric (of a difference with ``difference``); n/a if undefined."""
    if not (finite(low) and finite(high)):
        return NA
    return f"[{format_metric(key, low, difference)}, {format_metric(key, high, difference)}]"


# --------------------------------------------------------------------------- runs

_HEADLINE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("tasks_released",)),
    ("", ("tasks_claimed",)),
    ("", ("fill_rate",)),
    ("Claim latency mean / median / p90 / p99",
     tuple(f"claim_latency_{s}" for s in ("mean", "median", "p90", "p99"))),
    ("Monthly earnings mean / median / p90 / p99",
     tuple(f"monthly_earnings_{s}" for s in ("mean", "median", "p90", "p99"))),
    ("", ("earnings_gini",)),
    ("Earnings share of top 1% / top 10%", ("earnings_top1_share", "earnings_top10_share")),
    ("", ("zero_earnings_share",)),
    ("", ("hourly_paid_median",)),
    ("", ("hourly_effective_median",)),
    ("", ("unpaid_minutes_per_paid_hour",)),
    ("", ("top10_task_share",)),
    ("", ("tasks_hhi",)),
)
"""Rows of a run's headline table: words for rows of several metrics (the unit follows from
the catalogue), else the metric's own label."""

_PROFILE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Workers", "population_share"),
    ("Earnings", "earnings_share"),
    ("Mean/month", "monthly_earnings_mean"),
    ("Median/month", "monthly_earnings_median"),
    ("Latency", "claim_latency_median"),
    ("Paid/h", "hourly_paid_median"),
    ("Effective/h", "hourly_effective_median"),
)
"""Columns of the per-profile table and the per-profile metric each shows."""


def run_title(result: RunResult) -> str:
    """What a run is: scenario, seed, horizon, workers (variant and replication when not the
    plain run) and its computing time."""
    scn = result.scenario
    title = (f"{scn.name}: seed {result.seed}, {KINDS['duration'].format(scn.horizon)} simulated, "
             f"{format_metric('workers', result.summary.get('workers'))} workers")
    if result.variant != "base" or result.replication:
        title += f", variant {result.variant!r}, replication {result.replication}"
    wall = result.stats.get("wall_time")
    return title + (f" ({wall:.2f} s of computing)" if finite(wall) else "")


def headline_table(result: RunResult) -> pd.DataFrame:
    """The headline metrics of a run as a two-column table of readable values (units in the
    labels or the values)."""
    s, cur = result.summary, result.scenario.currency
    rows = []
    for words, keys in _HEADLINE:
        unit = metric(keys[0]).unit.format(currency=cur)
        label = f"{words} ({unit})" if words and unit else words or metric_label(keys[0], cur)
        rows.append((label, " / ".join(format_metric(k, s.get(k)) for k in keys)))
    return pd.DataFrame(rows, columns=["Metric", "Value"])


def _profile_names(result: RunResult) -> list[str]:
    """Profiles that appear in the summary, in the scenario's order (others after, sorted)."""
    found = {key.partition(".")[2] for key in result.summary
             if "." in key and key.partition(".")[0] in PROFILE_KEYS}
    ordered = [name for name in result.scenario.profiles if name in found]
    return ordered + sorted(found - set(ordered))


def profile_table(result: RunResult) -> pd.DataFrame:
    """Per profile: share of the workers and of all earnings, mean and median monthly earnings,
    median claim latency of the tasks it won, median hourly pay (paid work, all time online)."""
    s = result.summary
    rows = [{"Profile": name,
             **{column: format_metric(key, s.get(f"{key}.{name}"))
                for column, key in _PROFILE_COLUMNS}}
            for name in _profile_names(result)]
    return pd.DataFrame(rows, columns=["Profile", *(c for c, _ in _PROFILE_COLUMNS)])


NO_TASKS_NOTE = ("No task was posted in this run: metrics that need tasks are n/a (NaN in "
                 "summary.json).")


def run_sections(result: RunResult) -> list[Section]:
    """A run as the content of ``microwork run``'s printout: the headline metrics (with a note
    for an empty market) and the per-profile table."""
    headline = Section("Headline metrics", "headline", [run_title(result)],
                       [Table(headline_table(result))])
    if not result.summary.get("tasks_released"):
        headline.paragraphs.append(NO_TASKS_NOTE)
    sections = [headline]
    profiles = profile_table(result)
    if len(profiles):
        cur = result.scenario.currency
        sections.append(Section("By profile", "profiles", [
            f"Money in {cur}; shares of the workers and of all earnings; median claim latency "
            "of the tasks the profile won; median hourly pay of its workers, per hour of paid "
            "work and per hour online."], [Table(profiles)]))
    if result.registrations is not None:
        sections.append(Section("By platform", "platforms", [
            f"Money in {result.scenario.currency}; each platform's members (workers registered "
            "on it), tasks posted, share claimed, median claim latency, what its members "
            "earned there per month, the Gini of those earnings and each profile's share of "
            "them."], [Table(platform_table(result))]))
    return sections


def platform_table(result: RunResult) -> pd.DataFrame:
    """The per-platform figures of a market of several platforms, formatted side by side."""
    cur = result.scenario.currency
    summary = result.platforms
    shares = [c for c in summary.columns if c.startswith("earnings_share.")]
    rows = []
    for name, row in summary.iterrows():
        rows.append({
            "Platform": name, "Rule": row["rule"], "Members": f"{row['members']:,}",
            "Tasks": f"{row['tasks_posted']:,}",
            "Claimed": format_metric("fill_rate", row["fill_rate"]),
            "Latency": format_metric("claim_latency_median", row["claim_latency_median"]),
            f"Per member/month ({cur})": format_metric(
                "monthly_earnings_mean", row["monthly_earnings_per_member"]),
            "Gini": format_metric("earnings_gini", row["earnings_gini"]),
            **{c.partition(".")[2]: format_metric("earnings_share", row[c]) for c in shares},
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- comparisons


def comparison_table(comparison: Comparison, currency: str = "EUR",
                     profiles: Sequence[str] | None = None,
                     metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Metrics of a comparison as readable values, indexed by metric and variant: the mean over
    replications and its interval, and the paired difference to the baseline with its interval,
    p-value and significance (the content ``microwork compare`` prints). ``metrics`` defaults
    to the headline metrics (:func:`sim.analysis.catalogue.comparison_metrics`, profiles in
    ``profiles`` order)."""
    metrics = list(metrics) if metrics is not None else comparison_metrics(comparison.metrics,
                                                                            profiles)
    pct, base = percent_level(comparison.level), baseline_label(comparison)
    own = comparison.table(metrics).set_index(["metric", "variant"])
    paired = comparison.paired(metrics=metrics) if len(comparison.variants) > 1 else None
    diffs = paired.set_index(["metric", "variant"]) if paired is not None else None
    alpha = 1 - comparison.level
    rows = []
    for key in metrics:
        for variant in comparison.variants:
            mean = own.loc[(key, variant)]
            row = {"Metric": metric_label(key, currency), "Variant": variant,
                   "Mean": format_metric(key, mean["mean"]),
                   f"{pct} interval": interval(key, mean["ci_low"], mean["ci_high"])}
            if diffs is not None:
                d = None if comparison.is_baseline(variant) else diffs.loc[(key, variant)]
                significant = d is not None and finite(d["p_value"]) and d["p_value"] < alpha
                row.update({
                    f"Difference to {base}": ("baseline" if d is None
                                              else format_metric(key, d["mean_diff"], True)),
                    f"{pct} interval of the difference": (
                        "" if d is None else interval(key, d["ci_low"], d["ci_high"], True)),
                    "p": "" if d is None else p_value(d["p_value"]),
                    "Significant": "" if d is None else "yes" if significant else "no",
                })
            rows.append(row)
    return pd.DataFrame(rows).set_index(["Metric", "Variant"])


def p_value(value: Any) -> str:
    """A p-value with three decimals, "<0.001" below."""
    if not finite(value):
        return NA
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def baseline_label(comparison: Comparison) -> str:
    """The baseline's name, or "baseline" when each variant has its own (supply "both")."""
    return comparison.baseline if len(comparison.baseline_names) <= 1 else "baseline"


def comparison_notes(comparison: Comparison, currency: str = "EUR",
                     title: str | None = None) -> list[str]:
    """What a comparison table shows: the variants and replications, then how to read it."""
    pct, base = percent_level(comparison.level), baseline_label(comparison)
    reps = int(comparison.runs["replication"].nunique()) if len(comparison.runs) else 0
    bases = comparison.baseline_names
    which = (f"baseline {bases[0]!r}" if len(bases) == 1 else
             "each variant is compared with the baseline of the same labour supply ("
             + ", ".join(repr(b) for b in bases) + "); supply fixed is the short run, "
             "supply adaptive the long run (workers give up, leave and join)")
    intro = (f"{plural(len(comparison.variants), 'variant')} x {plural(reps, 'replication')} "
             "with paired seeds (replication r of every variant has the same workers and task "
             f"arrivals); {which}.")
    note = f"Mean over replications with its {pct} t interval"
    if len(comparison.variants) > 1:
        note += (f"; difference to the {base if len(bases) > 1 else repr(base)} over paired "
                 f"replications with its {pct} interval "
                 "and the paired t-test p-value, differences significant at "
                 f"{100 * (1 - comparison.level):g}% marked")
    note += (". Shares in %, their differences in percentage points (pp); money in "
             f"{currency}.")
    return [(f"{title}: " if title else "") + intro, note]


def variants_table(comparison: Comparison) -> pd.DataFrame:
    """What each variant of a comparison changes in the scenario."""
    rows = []
    for name, changes in comparison.variants.items():
        what = "; ".join(f"{path} = {_short(value)}" for path, value in changes.items())
        label = name + (" (baseline)" if comparison.is_baseline(name) else "")
        rows.append({"Variant": label, "Changes to the scenario": what or "none (as is)"})
    return pd.DataFrame(rows, columns=["Variant", "Changes to the scenario"])


def _short(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def comparison_section(comparison: Comparison, currency: str = "EUR",
                       profiles: Sequence[str] | None = None,
                       metrics: Sequence[str] | None = None) -> Section:
    """A comparison's notes and table (:func:`comparison_table`), grouped by metric."""
    table = comparison_table(comparison, currency, profiles, metrics).reset_index()
    return Section("Comparison with intervals", "comparison",
                   comparison_notes(comparison, currency), [Table(table, group="Metric")])


# --------------------------------------------------------------------------- calibration

CALIBRATION_ROLES = {"fitted": "Fitted targets (free parameters were fitted to these)",
                     "held_out": "Held-out targets (nothing was fitted to these)",
                     "input": "Inputs (set from the published figure)"}
"""Roles of calibration targets, in display order, with what each means."""


def calibration_table(report: CalibrationReport) -> pd.DataFrame:
    """The calibration report as readable values: per target, the published value with its
    tolerance, the simulated mean with its interval, and whether it lies within the band."""
    roles = {"fitted": "fitted", "held_out": "held out", "input": "input"}
    rows = []
    for r in report.table.itertuples():
        key = f"target.{r.id}"
        rows.append({
            "Target": r.id, "Quantity": r.quantity, "Role": roles.get(r.role, r.role),
            "Published": f"{format_metric(key, r.published)} ± {format_metric(key, r.tolerance)}",
            "Unit": r.unit, "Simulated": format_metric(key, r.simulated),
            "95% interval": (interval(key, r.ci_low, r.ci_high) if finite(r.ci_low)
                             else "set directly"),
            "Within tolerance": "yes" if r.within else "NO",
        })
    return pd.DataFrame(rows, columns=["Target", "Quantity", "Role", "Published", "Unit",
                                       "Simulated", "95% interval", "Within tolerance"])


def calibration_notes(report: CalibrationReport) -> list[str]:
    """The verdict of a calibration report and how to read its table."""
    verdict = ("every fitted target and input lies within its tolerance" if report.ok else
               "SOME FITTED TARGETS OR INPUTS ARE OUT OF THEIR TOLERANCE BAND")
    return [f"Calibration of {report.scenario}: {verdict}.",
            "Fitted targets had free parameters fitted to them; held-out targets are the "
            "honest test (nothing was fitted to them); inputs are set from the published "
            "figure."]


def calibration_section(report: CalibrationReport) -> Section:
    """A calibration report's verdict and one row per target."""
    return Section("Simulated against published figures", "calibration",
                   calibration_notes(report), [Table(calibration_table(report))])


# --------------------------------------------------------------------------- sweeps


def sweep_table(table: pd.DataFrame, parameters: Sequence[str], level: float = 0.95,
                currency: str = "EUR") -> pd.DataFrame:
    """A sweep's table (one row per point and metric: the swept values, ``metric``, ``mean``,
    ``ci_low``, ``ci_high``) as readable values: the metric's label, the swept values, the mean
    and its interval."""
    rows = [{"Metric": metric_label(str(row["metric"]), currency),
             **{p: grid_value(row[p]) for p in parameters},
             "Mean": format_metric(str(row["metric"]), row["mean"]),
             f"{percent_level(level)} interval": interval(str(row["metric"]), row["ci_low"],
                                                          row["ci_high"])}
            for row in table.to_dict("records")]
    return pd.DataFrame(rows, columns=["Metric", *parameters, "Mean",
                                       f"{percent_level(level)} interval"])


def sweep_notes(points: int, replications: int | None, level: float = 0.95) -> list[str]:
    """How to read a sweep's table (``replications`` per point, when known)."""
    over = plural(replications, "replication") if replications else "its replications"
    return [f"{plural(points, 'point')} of the grid, each the mean over {over} with its "
            f"{percent_level(level)} t interval (replication r of every point has the same "
            "seed)."]


# --------------------------------------------------------------------------- sensitivity

SENSITIVITY_METHODS = {
    "sobol": "Sobol' indices (S1 first order, ST total)",
    "morris": "Morris screening (mu* mean absolute elementary effect, sigma its spread)",
}
"""What each sensitivity method computes, in words."""


def sensitivity_method(method: Any) -> str:
    """Short name of a sensitivity method ("Morris screening")."""
    return SENSITIVITY_METHODS.get(str(method), "Sensitivity indices").split(" (")[0]


def sensitivity_table(indices: pd.DataFrame, level: float = 0.95,
                      currency: str = "EUR") -> pd.DataFrame:
    """Sensitivity indices (one row per output, parameter and index: ``value``, ``ci_low``,
    ``ci_high``) as readable values: per output and parameter, each index and, where it has
    one, its bootstrap interval."""
    pct, fmt = percent_level(level), KINDS["index"].format
    shown = list(dict.fromkeys(indices["index"].astype(str)))
    with_ci = {i for i in shown
               if any(finite(v) for v in indices.loc[indices["index"] == i, "ci_low"])}
    columns = ["Output", "Parameter"]
    for index in shown:
        columns += [index, f"{index} {pct} interval"] if index in with_ci else [index]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for r in indices.itertuples(index=False):
        output, parameter, index = str(r.output), str(r.parameter), str(r.index)
        row = rows.setdefault((output, parameter), {"Output": metric_label(output, currency),
                                                    "Parameter": parameter})
        row[index] = fmt(r.value)
        if index in with_ci:
            row[f"{index} {pct} interval"] = (f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]"
                                              if finite(r.ci_low) and finite(r.ci_high) else NA)
    return pd.DataFrame(list(rows.values()), columns=columns).fillna("")


def sensitivity_notes(method: Any, level: float = 0.95, points: int | None = None) -> list[str]:
    """How to read a sensitivity analysis' table."""
    what = SENSITIVITY_METHODS.get(str(method), "Sensitivity indices")
    sample = f", over {plural(points, 'sample point')}" if points else ""
    return [f"{what} of every output, per parameter{sample}, with "
            f"{percent_level(level)} bootstrap intervals."]


# --------------------------------------------------------------------------- manifests

_MANIFEST_LABELS = {
    "command": "Command", "source": "Source file", "seed": "Seed", "variant": "Variant",
    "replication": "Replication", "replications": "Replications", "baseline": "Baseline",
    "level": "Interval level", "processes": "Processes", "package_version": "microwork version",
    "git_commit": "Git commit", "wall_time": "Wall time", "cli_wall_time": "Wall time (command)",
    "events": "SimPy events", "events_per_task": "Events per task", "polls": "Polls simulated",
    "runs_computed": "Runs computed", "runs_resumed": "Runs resumed",
    "targets_file": "Targets file", "ok": "Within tolerance",
    "written_by": "Written by", "kind": "Kind of folder",
}
_LONG_KEYS = ("scenario", "spec", "variants", "fitted", "grid", "problem")
"""Manifest entries shown as YAML blocks rather than table cells."""


def _manifest_value(key: str, value: Any) -> str:
    if key.endswith("wall_time") and finite(value):
        return f"{value:.2f} s"
    if key == "level" and finite(value):
        return percent_level(value)
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return "not recorded"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def manifest_section(manifest: dict[str, Any]) -> Section:
    """The manifest: its short entries as a table, the long ones (scenario as run, spec,
    variants, fitted values, grid, problem) as YAML blocks."""
    rows = [{"Entry": _MANIFEST_LABELS.get(k, k), "Value": _manifest_value(k, v)}
            for k, v in manifest.items() if k not in _LONG_KEYS]
    details = [("Scenario as run (YAML)" if key == "scenario" else f"{key.capitalize()} (YAML)",
                yaml.safe_dump(manifest[key], sort_keys=False, allow_unicode=True, width=100))
               for key in _LONG_KEYS if manifest.get(key)]
    return Section("Manifest: what was run", "manifest",
                   ["Everything needed to run it again: the scenario as run, the seed, the "
                    "microwork version and git commit, and the cost of the run."],
                   [Table(pd.DataFrame(rows, columns=["Entry", "Value"]))], details)
