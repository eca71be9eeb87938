"""Readable HTML for people: notebook displays of results, and the shareable report page.

Two uses of the same tables:

* in Jupyter, :class:`sim.RunResult`, :class:`sim.experiment.Comparison` and
  :class:`sim.calibration.CalibrationReport` display as HTML tables through their
  ``_repr_html_``, which call :func:`run_html`, :func:`comparison_html` and
  :func:`calibration_html`;
* ``microwork report RESULT_DIR`` calls :func:`write_report`, which turns a run, comparison,
  sweep, sensitivity or calibration folder into one self-contained ``report.html``: the
  scenario in plain words, the headline table (the comparison with its intervals, the sweep's
  table or the sensitivity indices), every plot embedded as a PNG data URI and the manifest.
  The page loads nothing from anywhere (no scripts, fonts or network), so it can be mailed to
  someone who has no Python, and it prints cleanly.

Tables of formatted values are plain DataFrames of strings (:func:`headline_table`,
:func:`profile_table`, :func:`comparison_table`), reusing the units and labels of
:mod:`sim.presentation.text` so that the terminal, the notebook and the report say the same thing.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from sim.analysis.metrics import PROFILE_KEYS
from sim.foundation.errors import StoreError, shown
from sim.presentation import text
from sim.presentation.text import (
    comparison_metrics,
    count,
    duration,
    format_metric,
    metric_label,
    minutes,
    money,
    number,
    p_value,
    percent,
)
from sim.results.storage import (
    MANIFEST_FILE,
    REPORT_FILE,
    REPORT_GENERATOR,
    check_report_target,
    manifest_kind,
    read_json,
    read_table,
    remove_stale,
    replacing,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison
    from sim.results.run_result import RunResult
    from sim.scenario.schema import Scenario

REPORT_NAME = REPORT_FILE
"""File name of the report written into a result folder by default."""

RUN_FIGURES: tuple[tuple[str, str], ...] = (
    ("lorenz.png", "Lorenz curve of earnings, over all workers and within each profile: the "
     "further below the diagonal, the more unequal. Zero earners are included."),
    ("monthly_earnings.png", "Monthly earnings (30-day month) by profile: boxes show quartiles, "
     "whiskers the 1st to 99th percentiles, diamonds the means."),
    ("latency_cdf.png", "Claim latency (release to claim) by profile of the winning worker: the "
     "further left a curve, the faster that profile wins the race."),
    ("hourly_pay.png", "Hourly pay by profile: per hour of paid work and per hour online, so the "
     "gap between the two boxes is what unpaid watching and searching costs."),
)
COMPARISON_FIGURES: tuple[tuple[str, str], ...] = (
    ("metric_intervals.png", "Headline metrics per variant: mean over replications with its "
     "interval; the dashed line is the baseline's mean."),
    ("tradeoff.png", "Trade-off between earnings inequality (Gini) and how long requesters wait "
     "for a taker (mean claim latency), one point per variant."),
    ("lorenz_overlay.png", "Lorenz curves of earnings of every variant (replication 0: the same "
     "workers and task arrivals in every variant)."),
    ("profile_earnings.png", "Mean monthly earnings per worker by profile and variant, with "
     "intervals: who gains and who loses."),
)
CALIBRATION_FIGURES: tuple[tuple[str, str], ...] = (
    ("calibration.png", "Simulated against published, each relative to the published value: "
     "grey bands are the published value's tolerance, points the simulated mean with its "
     "interval."),
)


# --------------------------------------------------------------------------- tables


def headline_table(result: RunResult) -> pd.DataFrame:
    """The headline metrics of a run as a two-column table of readable values (units included),
    in the order of ``microwork run``'s summary."""
    s, cur = result.summary, result.scenario.currency

    def stats(prefix: str, fmt: Callable[[Any], str]) -> str:
        return " / ".join(fmt(s.get(f"{prefix}_{k}")) for k in ("mean", "median", "p90", "p99"))

    def plain_money(value: Any) -> str:
        return money(value, cur).removesuffix(f" {cur}")

    rows = [
        ("Tasks released", count(s.get("tasks_released"))),
        ("Tasks claimed", count(s.get("tasks_claimed"))),
        ("Fill rate (claimed before expiry)", percent(s.get("fill_rate"))),
        ("Claim latency mean / median / p90 / p99", stats("claim_latency", duration)),
        (f"Monthly earnings mean / median / p90 / p99 ({cur})",
         stats("monthly_earnings", plain_money)),
        ("Earnings Gini", number(s.get("earnings_gini"), 2)),
        ("Earnings share of top 1% / top 10%",
         " / ".join(percent(s.get(k)) for k in ("earnings_top1_share", "earnings_top10_share"))),
        ("Workers with zero earnings", percent(s.get("zero_earnings_share"))),
        ("Median hourly pay, paid work only", money(s.get("hourly_paid_median"), f"{cur}/h")),
        ("Median hourly pay, all time online",
         money(s.get("hourly_effective_median"), f"{cur}/h")),
        ("Unpaid minutes per paid hour", minutes(s.get("unpaid_minutes_per_paid_hour"))),
        ("Tasks done by the top 10% of workers", percent(s.get("top10_task_share"))),
        ("HHI of tasks across workers", number(s.get("tasks_hhi"))),
    ]
    return pd.DataFrame(rows, columns=["Metric", "Value"])


def _profile_names(result: RunResult) -> list[str]:
    found = {key.partition(".")[2] for key in result.summary
             if "." in key and key.partition(".")[0] in PROFILE_KEYS}
    ordered = [name for name in result.scenario.profiles if name in found]
    return ordered + sorted(found - set(ordered))


def profile_table(result: RunResult) -> pd.DataFrame:
    """Per profile: share of the workers and of all earnings, mean and median monthly earnings,
    median claim latency of the tasks it won, median hourly pay (paid work, all time online)."""
    s, cur = result.summary, result.scenario.currency
    rows = []
    for name in _profile_names(result):
        def get(metric: str, name: str = name) -> Any:
            return s.get(f"{metric}.{name}")

        rows.append({
            "Profile": name,
            "Share of workers": percent(get("population_share")),
            "Share of earnings": percent(get("earnings_share")),
            f"Monthly mean ({cur})": money(get("monthly_earnings_mean"), cur).removesuffix(
                f" {cur}"),
            f"Monthly median ({cur})": money(get("monthly_earnings_median"), cur).removesuffix(
                f" {cur}"),
            "Median claim latency": duration(get("claim_latency_median")),
            f"Paid work ({cur}/h)": money(get("hourly_paid_median"), cur).removesuffix(f" {cur}"),
            f"All time online ({cur}/h)": money(get("hourly_effective_median"),
                                                cur).removesuffix(f" {cur}"),
        })
    return pd.DataFrame(rows)


def comparison_table(comparison: Comparison, currency: str = "EUR",
                     profiles: Sequence[str] | None = None,
                     metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Metrics of a comparison as readable values, indexed by metric and variant: the mean over
    replications and its interval, and the paired difference to the baseline with its interval
    and p-value (the content ``microwork compare`` prints). ``metrics`` defaults to the headline
    metrics (:func:`sim.report.comparison_metrics`, profiles in ``profiles`` order)."""
    metrics = list(metrics) if metrics is not None else comparison_metrics(comparison.metrics,
                                                                            profiles)
    pct = f"{100 * comparison.level:g}%"
    own = comparison.table(metrics).set_index(["metric", "variant"])
    paired = comparison.paired(metrics=metrics) if len(comparison.variants) > 1 else None
    diffs = paired.set_index(["metric", "variant"]) if paired is not None else None
    alpha = 1 - comparison.level

    rows = []
    for metric in metrics:
        for variant in comparison.variants:
            mean = own.loc[(metric, variant)]
            row = {"Metric": label(metric, currency), "Variant": variant,
                   "Mean": format_value(metric, mean["mean"]),
                   f"{pct} interval": _interval(metric, mean["ci_low"], mean["ci_high"])}
            if diffs is not None:
                if variant == comparison.baseline:
                    row.update({f"Difference to {comparison.baseline}": "baseline",
                                f"{pct} interval of the difference": "", "p": "",
                                "Significant": ""})
                else:
                    d = diffs.loc[(metric, variant)]
                    significant = _finite(d["p_value"]) and d["p_value"] < alpha
                    row.update({
                        f"Difference to {comparison.baseline}":
                            format_value(metric, d["mean_diff"], True),
                        f"{pct} interval of the difference":
                            _interval(metric, d["ci_low"], d["ci_high"], True),
                        "p": p_value(d["p_value"]),
                        "Significant": "yes" if significant else "no",
                    })
            rows.append(row)
    return pd.DataFrame(rows).set_index(["Metric", "Variant"])


def calibration_table(report: CalibrationReport) -> pd.DataFrame:
    """The calibration report as readable values: per target, the published value with its
    tolerance, the simulated mean with its interval, and whether it lies within the band."""
    roles = {"fitted": "fitted", "held_out": "held out", "input": "input"}
    rows = []
    for r in report.table.itertuples():
        rows.append({
            "Target": r.id, "Quantity": r.quantity, "Role": roles.get(r.role, r.role),
            "Published": f"{r.published:.4g} ± {r.tolerance:.3g}", "Unit": r.unit,
            "Simulated": f"{r.simulated:.4g}" if _finite(r.simulated) else text.NA,
            "95% interval": (f"[{r.ci_low:.4g}, {r.ci_high:.4g}]" if _finite(r.ci_low)
                             else "set directly"),
            "Within tolerance": "yes" if r.within else "NO",
        })
    return pd.DataFrame(rows)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _interval(metric: str, low: Any, high: Any, difference: bool = False) -> str:
    """``[low, high]`` of ``metric`` with its unit (of a difference with ``difference``)."""
    if not (_finite(low) and _finite(high)):
        return text.NA
    return "[" + ", ".join(format_value(metric, v, difference) for v in (low, high)) + "]"


OTHER_METRICS: dict[str, tuple[str, str]] = {
    "workers": ("Registered workers", "count"),
    "tasks_released": ("Tasks released", "count"),
    "tasks_claimed": ("Tasks claimed", "count"),
    "earnings_top1_share": ("Earnings share of the top 1%", "share"),
    "zero_earnings_share": ("Workers with zero earnings", "share"),
    "monthly_earnings_p90": ("Monthly earnings, 90th percentile", "money"),
    "monthly_earnings_p99": ("Monthly earnings, 99th percentile", "money"),
    "claim_latency_p90": ("Claim latency, 90th percentile", "duration"),
    "claim_latency_p99": ("Claim latency, 99th percentile", "duration"),
    "hourly_paid_median": ("Median hourly pay, paid work only", "rate"),
    "top10_task_share": ("Tasks done by the top 10% of workers", "share"),
    "tasks_hhi": ("HHI of tasks across workers", "index"),
    "population_share": ("Share of the workers", "share"),
}
"""Labels and kinds of the summary metrics that :mod:`sim.presentation.text` leaves out of a
comparison's headline, so that any metric a table shows reads as words with its unit."""


def label(metric: str, currency: str = "EUR") -> str:
    """Readable name of any summary metric with its unit (see :func:`sim.report.metric_label`);
    per-profile metrics (``metric.profile``) are named after their profile."""
    base, _, profile = metric.partition(".")
    if base not in OTHER_METRICS:
        return metric_label(metric, currency)
    name, kind = OTHER_METRICS[base]
    unit = {"money": f" ({currency})", "rate": f" ({currency}/h)"}.get(kind, "")
    return f"{name}{', ' + profile if profile else ''}{unit}"


def format_value(metric: str, value: Any, difference: bool = False) -> str:
    """A value of any summary metric with its unit (see :func:`sim.report.format_metric`)."""
    kind = OTHER_METRICS.get(metric.partition(".")[0], ("", ""))[1]
    if not kind:
        return format_metric(metric, value, difference)
    if not _finite(value):
        return text.NA
    if kind == "share":
        return f"{100 * value:+.2f} pp" if difference else percent(value)
    shown = {"money": lambda v: money(v, "").strip(), "rate": lambda v: money(v, "").strip(),
             "duration": duration, "count": count, "index": number}[kind](value)
    return f"+{shown}" if difference and value > 0 else shown


# --------------------------------------------------------------------------- HTML pieces

_TABLE_CLASS = "mw-table"


_NUMBER = re.compile(r"^[\[+\-]?(?:\d|n/a$|\.\d)")


def _numeric(values: Iterable[str]) -> bool:
    """True when most non-empty cells of a column read as numbers (they are right-aligned)."""
    cells = [v for v in values if v]
    return bool(cells) and sum(bool(_NUMBER.match(v)) for v in cells) * 2 > len(cells)


def _frame(df: pd.DataFrame, caption: str = "", group: str | None = None) -> str:
    """A DataFrame of strings as an escaped HTML table without index: number columns
    right-aligned, text columns left-aligned. With ``group``, that column becomes a heading row
    over each run of equal values (for long metric-by-variant tables), and rows whose
    ``Significant`` cell is "yes" are highlighted."""
    columns = [c for c in df.columns if c != group]
    text = {c: ["" if pd.isna(v) else str(v) for v in df[c]] for c in columns}
    align = {c: ' class="num" style="text-align: right"' if _numeric(text[c])
             else ' style="text-align: left"' for c in columns}  # inline: notebooks lack the CSS
    head = "".join(f"<th{align[c]}>{html.escape(str(c))}</th>" for c in columns)
    parts = [f'<table class="{_TABLE_CLASS}">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append(f"<thead><tr>{head}</tr></thead>\n<tbody>")
    previous = None
    for i in range(len(df)):
        if group is not None and df[group].iloc[i] != previous:
            previous = df[group].iloc[i]
            parts.append(f'<tr class="group"><th colspan="{len(columns)}">'
                         f"{html.escape(str(previous))}</th></tr>")
        cells = "".join(f"<td{align[c]}>{html.escape(text[c][i])}</td>" for c in columns)
        significant = "Significant" in text and text["Significant"][i] == "yes"
        parts.append(f'<tr class="significant">{cells}</tr>' if significant
                     else f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _run_title(result: RunResult) -> str:
    scn = result.scenario
    wall = result.stats.get("wall_time")
    title = (f"{scn.name}: seed {result.seed}, {duration(scn.horizon)} simulated, "
             f"{count(result.summary.get('workers'))} workers")
    if result.variant != "base" or result.replication:
        title += f", variant {result.variant!r}, replication {result.replication}"
    if _finite(wall):
        title += f" ({wall:.2f} s of computing)"
    return title


def run_html(result: RunResult) -> str:
    """HTML fragment of a run for notebooks: a title line, the headline table and the
    per-profile table (the content of ``microwork run``'s printout)."""
    cur = result.scenario.currency
    parts = [f'<div class="mw-result"><p><strong>{html.escape(_run_title(result))}</strong></p>',
             _frame(headline_table(result), "Headline metrics")]
    if not result.summary.get("tasks_released"):
        parts.append("<p>No task was posted in this run: metrics that need tasks are n/a "
                     "(NaN in summary.json).</p>")
    profiles = profile_table(result)
    if len(profiles):
        parts.append(_frame(profiles, f"By profile (money in {cur}; latency of the tasks the "
                                      "profile won; median hourly pay of its workers)"))
    parts.append("</div>")
    return "\n".join(parts)


def comparison_html(comparison: Comparison, currency: str = "EUR",
                    profiles: Sequence[str] | None = None,
                    metrics: Sequence[str] | None = None) -> str:
    """HTML fragment of a comparison: what was compared and the headline metrics per variant
    with intervals and paired differences to the baseline."""
    reps = int(comparison.runs["replication"].nunique()) if len(comparison.runs) else 0
    pct = f"{100 * comparison.level:g}%"
    intro = (f"{len(comparison.variants)} variants x {reps} replications with paired seeds "
             f"(replication r of every variant has the same workers and task arrivals); "
             f"baseline {comparison.baseline!r}. Mean over replications with its {pct} t "
             f"interval; difference to the baseline over paired replications with its {pct} "
             "interval and the paired t-test p-value. Shares in %, their differences in "
             f"percentage points (pp); money in {currency}.")
    table = comparison_table(comparison, currency, profiles, metrics)
    return "\n".join([f'<div class="mw-result"><p>{html.escape(intro)}</p>',
                      _frame(table.reset_index(), group="Metric"), "</div>"])


def calibration_html(report: CalibrationReport) -> str:
    """HTML fragment of a calibration report: the verdict and one row per target."""
    verdict = ("every fitted target and input lies within its tolerance" if report.ok else
               "some fitted targets or inputs are OUT of their tolerance band")
    intro = (f"Calibration of {report.scenario}: {verdict}. Fitted targets had free parameters "
             "fitted to them; held-out targets are the honest test (nothing was fitted to "
             "them); inputs are set from the published figure.")
    return "\n".join([f'<div class="mw-result"><p>{html.escape(intro)}</p>',
                      _frame(calibration_table(report)), "</div>"])


def _paragraphs(description: str) -> str:
    """describe_scenario's wrapped text as HTML, one paragraph per sentence (workers and
    profiles, regions, task types, platform rules)."""
    flat = " ".join(description.split())
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z0-9])", flat)
    return "\n".join(f"<p>{html.escape(sentence)}</p>" for sentence in sentences)


def _png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


# --------------------------------------------------------------------------- result folders


@dataclass
class FolderReport:
    """What a result folder holds, read for the report page."""

    kind: str
    """"run", "comparison", "sweep", "sensitivity" or "calibration"."""
    folder: Path
    manifest: dict[str, Any]
    scenario: Scenario | None
    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)
    """(anchor, heading, HTML) of the sections between the scenario and the figures."""
    figures: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(file name, caption, PNG bytes) of every figure."""


def folder_kind(folder: Path) -> str:
    """"run", "comparison", "sweep", "sensitivity" or "calibration": the kind the folder's
    manifest names, or (for folders written before manifests named it) the kind its files
    show; raises StoreError naming what is wrong otherwise."""
    if not folder.is_dir():
        raise StoreError(f"{str(folder)!r} is not a folder")
    if not (folder / MANIFEST_FILE).is_file():
        raise StoreError(f"{str(folder)!r} holds no {MANIFEST_FILE}: not a microwork result "
                         "folder (written by microwork run, compare, calibrate, sweep or "
                         "sensitivity)")
    kind = manifest_kind(folder)
    if kind is not None:
        return kind
    for kind, files in _KIND_FILES:
        if all((folder / name).is_file() for name in files):
            return kind
    raise StoreError(f"{str(folder)!r} is neither a run folder (summary.json, workers.parquet), "
                     "a comparison folder (runs.parquet, table.csv), a sweep folder "
                     "(points.json, table.csv), a sensitivity folder (indices.csv) nor a "
                     "calibration folder (calibration.csv)")


_KIND_FILES = (("run", ("summary.json", "workers.parquet")),
               ("sweep", ("points.json", "table.csv")),
               ("sensitivity", ("indices.csv", "points.json")),
               ("comparison", ("runs.parquet", "table.csv")),
               ("calibration", ("calibration.csv",)))
"""Files that show the kind of a result folder whose manifest does not name it (in order: a
sweep folder also holds runs.parquet and table.csv, as a comparison does)."""


def _columns(frame: pd.DataFrame, path: Path, needed: Iterable[str]) -> pd.DataFrame:
    """``frame`` read from ``path``, if it has the ``needed`` columns (else StoreError)."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise StoreError(f"{path}: missing column(s) {', '.join(missing)}; is it the file "
                         "microwork wrote?")
    return frame


def _scenario_from(manifest: dict[str, Any]) -> Scenario | None:
    from sim.foundation.errors import ScenarioError
    from sim.scenario.loading import validate

    data = manifest.get("scenario")
    if not isinstance(data, dict):
        return None
    try:
        return validate(data)
    except ScenarioError:
        return None


def _figures(folder: Path, standard: Iterable[tuple[str, str]],
             draw: Callable[[str], Figure | None]) -> list[tuple[str, str, bytes]]:
    """Every standard figure (the folder's PNG, or drawn now when the folder has none, e.g.
    after ``--no-plots``), then any other PNG of the folder."""
    found = []
    names = set()
    for name, caption in standard:
        names.add(name)
        path = folder / name
        if path.is_file():
            found.append((name, caption, path.read_bytes()))
            continue
        fig = draw(name)
        if fig is not None:
            found.append((name, caption + " (drawn for this report)", _figure_png(fig)))
    for path in sorted(folder.glob("*.png")):
        if path.name not in names:
            found.append((path.name, path.stem.replace("_", " "), path.read_bytes()))
    return found


def _read_run(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    from sim.presentation import figures as plots
    from sim.results.run_result import load_result

    result = load_result(folder)
    cur = result.scenario.currency
    names = [str(n) for n in result.scenario.profiles]
    makers: dict[str, Callable[[], Figure]] = {
        "lorenz.png": lambda: plots.lorenz(result.workers),
        "monthly_earnings.png": lambda: plots.monthly_earnings_by_profile(
            result.workers, result.horizon, currency=cur),
        "latency_cdf.png": lambda: plots.latency_cdf(result.tasks, profiles=names),
        "hourly_pay.png": lambda: plots.hourly_pay(result.workers, currency=cur),
    }
    sections = [("headline", "Headline metrics",
                 f"<p>{html.escape(_run_title(result))}</p>"
                 + _frame(headline_table(result)))]
    profiles = profile_table(result)
    if len(profiles):
        sections.append(("profiles", "By profile",
                         f"<p>Money in {html.escape(cur)}; shares of the workers and of all "
                         "earnings; median claim latency of the tasks the profile won; median "
                         "hourly pay of its workers, per hour of paid work and per hour "
                         "online.</p>" + _frame(profiles)))
    return FolderReport(
        kind="run", folder=folder, manifest=manifest, scenario=result.scenario,
        title=f"Run of {result.scenario.name}, seed {result.seed}", sections=sections,
        figures=_figures(folder, RUN_FIGURES, lambda name: makers[name]()))


def load_comparison(folder: Path) -> Comparison:
    """Rebuild the :class:`~sim.experiment.Comparison` of a comparison folder from its
    ``runs.parquet``, ``earnings_replication0.parquet`` and ``manifest.json``."""
    from sim.experiments.compare import Comparison

    manifest = _manifest(folder)
    runs = _columns(read_table(folder / "runs.parquet", pd.read_parquet),
                    folder / "runs.parquet", ["variant", "replication"])
    variants = manifest.get("variants")
    if not isinstance(variants, dict) or set(variants) != set(runs["variant"]):
        variants = {name: {} for name in runs["variant"].unique()}
    earnings: dict[str, list[float]] = {}
    path = folder / "earnings_replication0.parquet"
    if path.is_file():
        frame = read_table(path, pd.read_parquet)
        earnings = {str(c): frame[c].dropna().tolist() for c in frame.columns}
    if not variants:
        raise StoreError(f"{folder / 'runs.parquet'}: holds no runs")
    baseline = manifest.get("baseline")
    if baseline not in variants:
        baseline = next(iter(variants))
    return Comparison(runs=runs, baseline=baseline, variants=variants, earnings=earnings,
                      level=_level(manifest))


def _manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a result folder (StoreError when it is not a JSON object)."""
    manifest = read_json(folder / MANIFEST_FILE)
    if not isinstance(manifest, dict):
        raise StoreError(f"{folder / MANIFEST_FILE}: expected a JSON object, got "
                         f"{shown(manifest)}")
    return manifest


def _level(manifest: dict[str, Any]) -> float:
    level = manifest.get("level", 0.95)
    return float(level) if _finite(level) and 0 < level < 1 else 0.95


def _variants_table(comparison: Comparison) -> pd.DataFrame:
    rows = []
    for name, changes in comparison.variants.items():
        what = "; ".join(f"{path} = {_short(value)}" for path, value in changes.items())
        label = name + (" (baseline)" if name == comparison.baseline else "")
        rows.append({"Variant": label, "Changes to the scenario": what or "none (as is)"})
    return pd.DataFrame(rows)


def _short(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _read_comparison(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    from sim.presentation import figures as plots

    comparison = load_comparison(folder)
    scenario = _scenario_from(manifest)
    cur = scenario.currency if scenario else "EUR"
    profiles = [str(n) for n in scenario.profiles] if scenario else None
    makers: dict[str, Callable[[], Figure]] = {
        "metric_intervals.png": lambda: plots.metric_intervals(comparison, currency=cur),
        "lorenz_overlay.png": lambda: plots.lorenz_overlay(comparison),
        "tradeoff.png": lambda: plots.tradeoff(comparison),
        "profile_earnings.png": lambda: plots.profile_earnings(comparison, currency=cur),
    }
    name = folder.name if scenario is None else scenario.name
    sections = [
        ("variants", "Variants compared", _frame(_variants_table(comparison))),
        ("comparison", "Comparison with intervals", comparison_html(comparison, cur, profiles)),
    ]
    return FolderReport(
        kind="comparison", folder=folder, manifest=manifest, scenario=scenario,
        title=f"Comparison of {len(comparison.variants)} variants of {name}",
        sections=sections, figures=_figures(folder, COMPARISON_FIGURES,
                                            lambda n: makers[n]()))


def _read_calibration(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    from sim.experiments.calibration import CalibrationReport

    scenario = _scenario_from(manifest)
    path = folder / "calibration.csv"
    table = _columns(read_table(path, pd.read_csv), path,
                     ["id", "quantity", "role", "published", "unit", "tolerance", "simulated",
                      "ci_low", "ci_high", "within"])
    name = scenario.name if scenario else folder.name
    report = CalibrationReport(scenario=name, table=table)
    sections = [("calibration", "Simulated against published figures", calibration_html(report))]
    return FolderReport(
        kind="calibration", folder=folder, manifest=manifest, scenario=scenario,
        title=f"Calibration of {name}", sections=sections,
        figures=_figures(folder, CALIBRATION_FIGURES, lambda n: None))


def _grid_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plot_caption(name: str, currency: str) -> str:
    """Caption of a sweep or sensitivity plot, from its file name."""
    stem = Path(name).stem
    if stem.startswith("lines_"):
        return (f"{label(stem.removeprefix('lines_'), currency)} across the grid: the mean over "
                "replications with its interval band, one line per level of the other axes.")
    if stem.startswith("heatmap_"):
        return (f"{label(stem.removeprefix('heatmap_'), currency)} in every cell of the grid: "
                "mean and interval half-width.")
    return {"sobol_indices": "Sobol' indices per parameter and output: first order (S1) and "
            "total (ST), with bootstrap intervals.",
            "morris": "Morris screening: mu* (mean absolute elementary effect, with interval) "
            "against sigma (interactions and non-linearity)."}.get(stem, stem.replace("_", " "))


def _experiment_figures(folder: Path, currency: str) -> list[tuple[str, str, bytes]]:
    return [(path.name, _plot_caption(path.name, currency), path.read_bytes())
            for path in sorted(folder.glob("*.png"))]


def _read_sweep(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    scenario = _scenario_from(manifest)
    cur = scenario.currency if scenario else "EUR"
    path = folder / "table.csv"
    table = _columns(read_table(path, pd.read_csv), path,
                     ["point", "metric", "mean", "ci_low", "ci_high"])
    columns = list(table.columns)
    parameters = columns[1:columns.index("metric")]
    shown_metrics = manifest.get("metrics")
    if isinstance(shown_metrics, list) and set(shown_metrics) & set(table["metric"]):
        table = table[table["metric"].isin(shown_metrics)]
    order = {metric: i for i, metric in enumerate(table["metric"].unique())}
    table = table.sort_values("metric", key=lambda m: m.map(order), kind="stable")
    pct = f"{100 * _level(manifest):g}%"
    rows = []
    for row in table.itertuples(index=False):
        values = dict(zip(columns, row, strict=True))
        metric = str(values["metric"])
        rows.append({"Metric": label(metric, cur),
                     **{p: _grid_value(values[p]) for p in parameters},
                     "Mean": format_value(metric, values["mean"]),
                     f"{pct} interval": _interval(metric, values["ci_low"], values["ci_high"])})
    points = table["point"].nunique()
    intro = (f"{points} points of the grid, each the mean over "
             f"{manifest.get('replications', '?')} replications with its {pct} t interval "
             "(replication r of every point has the same seed).")
    name = scenario.name if scenario else folder.name
    sections = [("sweep", "The sweep", f"<p>{html.escape(intro)}</p>"
                 + _frame(pd.DataFrame(rows), group="Metric"))]
    return FolderReport(kind="sweep", folder=folder, manifest=manifest, scenario=scenario,
                        title=f"Sweep of {name} over {', '.join(parameters) or 'its grid'}",
                        sections=sections, figures=_experiment_figures(folder, cur))


def _read_sensitivity(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    scenario = _scenario_from(manifest)
    cur = scenario.currency if scenario else "EUR"
    path = folder / "indices.csv"
    table = _columns(read_table(path, pd.read_csv), path,
                     ["output", "parameter", "index", "value", "ci_low", "ci_high"])
    pct = f"{100 * _level(manifest):g}%"
    rows = [{"Output": label(str(r.output), cur), "Parameter": str(r.parameter),
             "Index": str(r.index), "Value": number(r.value, 3),
             f"{pct} interval": (f"[{number(r.ci_low, 3)}, {number(r.ci_high, 3)}]"
                                 if _finite(r.ci_low) and _finite(r.ci_high) else "")}
            for r in table.itertuples(index=False)]
    method = {"sobol": "Sobol' indices", "morris": "Morris screening"}.get(
        str(manifest.get("method")), "Sensitivity indices")
    name = scenario.name if scenario else folder.name
    intro = (f"{method} of every output, per parameter, with {pct} bootstrap intervals.")
    sections = [("indices", "Sensitivity indices", f"<p>{html.escape(intro)}</p>"
                 + _frame(pd.DataFrame(rows), group="Output"))]
    return FolderReport(kind="sensitivity", folder=folder, manifest=manifest,
                        scenario=scenario, title=f"{method} of {name}", sections=sections,
                        figures=_experiment_figures(folder, cur))


def read_folder(folder: str | Path) -> FolderReport:
    """Read a run, comparison, sweep, sensitivity or calibration folder for
    :func:`build_report`; a missing or damaged file raises StoreError naming it."""
    path = Path(folder)
    kind = folder_kind(path)
    reader = {"run": _read_run, "comparison": _read_comparison, "sweep": _read_sweep,
              "sensitivity": _read_sensitivity, "calibration": _read_calibration}[kind]
    return reader(path, _manifest(path))


# --------------------------------------------------------------------------- the page

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


def _manifest_value(key: str, value: Any) -> str:
    if key.endswith("wall_time") and _finite(value):
        return f"{value:.2f} s"
    if key == "level" and _finite(value):
        return f"{100 * value:g}%"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return "not recorded"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def manifest_html(manifest: dict[str, Any]) -> str:
    """The manifest: its short entries as a table, the long ones (scenario as run, spec,
    variants, fitted values) as YAML in collapsible blocks."""
    rows = [{"Entry": _MANIFEST_LABELS.get(k, k), "Value": _manifest_value(k, v)}
            for k, v in manifest.items() if k not in _LONG_KEYS]
    parts = [_frame(pd.DataFrame(rows, columns=["Entry", "Value"]))]
    for key in _LONG_KEYS:
        if manifest.get(key):
            dumped = yaml.safe_dump(manifest[key], sort_keys=False, allow_unicode=True,
                                    width=100)
            label = {"scenario": "Scenario as run (YAML)"}.get(key, f"{key.capitalize()} (YAML)")
            parts.append(f"<details><summary>{html.escape(label)}</summary>"
                         f"<pre>{html.escape(dumped)}</pre></details>")
    return "\n".join(parts)


_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1d2430; background: #fff; margin: 0 auto; max-width: 1100px;
  padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid #d8dde6; }
p.meta { color: #5b6576; margin: 0; font-size: .9rem; }
nav { margin: 1rem 0; font-size: .92rem; }
nav a { margin-right: 1rem; color: #2458b3; text-decoration: none; }
table.mw-table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .9rem;
  font-variant-numeric: tabular-nums; }
table.mw-table caption { text-align: left; font-weight: 600; padding: .3rem 0; caption-side: top; }
table.mw-table th, table.mw-table td { padding: .3rem .7rem; border-bottom: 1px solid #e6e9ef;
  text-align: left; vertical-align: top; }
table.mw-table .num { text-align: right; white-space: nowrap; }
table.mw-table thead th { background: #f3f5f9; border-bottom: 2px solid #cfd5df; }
table.mw-table tr.group th { text-align: left; background: #fafbfd; font-weight: 600;
  padding-top: .6rem; }
table.mw-table tr.significant td { background: #fff8e6; }
figure { margin: 1.5rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e6e9ef; display: block; }
figcaption { color: #3c4554; font-size: .9rem; margin-top: .4rem; max-width: 60rem; }
details { margin: .6rem 0; }
summary { cursor: pointer; color: #2458b3; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem; line-height: 1.35; }
footer { margin-top: 3rem; color: #5b6576; font-size: .85rem; }
@media print { nav { display: none; } figure { break-inside: avoid; } body { max-width: none; } }
"""


def build_report(folder: str | Path) -> str:
    """The whole report page of a result folder as one HTML string: everything inline (styles,
    plots as PNG data URIs), no script, nothing fetched."""
    from sim.foundation.version import __version__
    from sim.presentation.text import describe_scenario

    rep = read_folder(folder)
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    sections: list[tuple[str, str, str]] = []
    if rep.scenario is not None:
        sections.append(("scenario", "The scenario in plain words",
                         _paragraphs(describe_scenario(rep.scenario))))
    else:
        sections.append(("scenario", "The scenario",
                         "<p>The manifest of this folder does not record the scenario.</p>"))
    sections += rep.sections
    if rep.figures:
        figures = "\n".join(
            f'<figure id="fig-{html.escape(Path(name).stem)}"><img src="{_png_data_uri(data)}" '
            f'alt="{html.escape(caption)}"><figcaption><strong>{html.escape(name)}</strong>: '
            f"{html.escape(caption)}</figcaption></figure>"
            for name, caption, data in rep.figures)
        sections.append(("figures", "Figures", figures))
    sections.append(("manifest", "Manifest: what was run",
                     "<p>Everything needed to run it again: the scenario as run, the seed, the "
                     "microwork version and git commit, and the cost of the run.</p>"
                     + manifest_html(rep.manifest)))
    nav = "".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h, _ in sections)
    body = "\n".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>\n{content}\n</section>'
                     for a, h, content in sections)
    title = f"microwork: {rep.title}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{REPORT_GENERATOR} {html.escape(__version__)}">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{html.escape(rep.title)}</h1>
<p class="meta">microwork {rep.kind} report of <code>{html.escape(rep.folder.name)}</code>,
made {html.escape(when)} with microwork {html.escape(__version__)}.</p>
</header>
<nav>{nav}</nav>
{body}
<footer>Made by <code>microwork report</code>. This page is self-contained: it needs no network
and no other file.</footer>
</body>
</html>
"""


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report page of ``folder`` to ``out`` (default ``<folder>/report.html``)
    atomically: into a temporary file of the same folder, renamed into place at the end. An
    existing ``out`` is replaced only if it is a report microwork wrote (else StoreError)."""
    target = Path(out) if out is not None else Path(folder) / REPORT_NAME
    check_report_target(target)
    page = build_report(folder)
    remove_stale(target.parent)  # temporary files of killed earlier reports
    with replacing(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target
