"""Plain-text reports for the terminal: a run's summary, a scenario in words, a comparison, a
calibration report, a sweep and a sensitivity analysis.

The tables are those of :mod:`sim.presentation.content` (values and labels from the metric
catalogue, :mod:`sim.analysis.catalogue`), laid out here as aligned text no wider than a
terminal; pure functions returning strings, used by the ``microwork`` command and handy in
notebooks.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.analysis.catalogue import KINDS, NA, finite
from sim.foundation.units import WEEKDAYS as DAYS
from sim.presentation.content import (
    CALIBRATION_ROLES,
    Section,
    baseline_label,
    calibration_notes,
    calibration_table,
    comparison_notes,
    comparison_table,
    percent_level,
    plural,
    run_sections,
    sensitivity_notes,
    sensitivity_table,
    sweep_table,
)
from sim.scenario.allocation import RULE_PARAMS as RULES

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison
    from sim.experiments.sensitivity import SensitivityResult
    from sim.experiments.sweep import SweepResult
    from sim.results.run_result import RunResult
    from sim.scenario.schema import Scenario


WIDTH = 88
INDENT = "  "


# --------------------------------------------------------------------------- layout


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


def frame(df: pd.DataFrame, group: str | None = None, header: Sequence[str] | None = None,
          indent: str = INDENT) -> str:
    """A DataFrame of strings as an aligned text table (:func:`table`), headed by its column
    names or ``header``; with ``group``, that column becomes a line over each run of equal
    values instead of a column."""
    columns = [c for c in df.columns if c != group]
    lines = table(header or [str(c) for c in columns],
                  df[columns].astype(str).to_numpy().tolist(), indent).split("\n")
    if group is None:
        return "\n".join(lines)
    body, previous = lines[:2], None
    for value, line in zip(df[group], lines[2:], strict=True):
        if value != previous:
            body.append(str(value))
            previous = value
        body.append(line)
    return "\n".join(body)


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def _section(section: Section) -> str:
    """A section as its heading and paragraphs (wrapped and indented), then its tables."""
    words = " ".join([f"{section.heading}:", *section.paragraphs])
    return "\n".join([_wrap(words, INDENT), *(frame(t.frame) for t in section.tables)])


# --------------------------------------------------------------------------- run summary


def format_summary(result: RunResult) -> str:
    """The headline metrics of a run (with units) followed by a per-profile table, as text."""
    headline, *others = run_sections(result)
    title, *notes = headline.paragraphs
    parts = [title, "", frame(headline.tables[0].frame)]
    parts += [part for note in notes for part in ("", _wrap(note, INDENT))]
    parts += [part for section in others for part in ("", _section(section))]
    return "\n".join(parts)


# --------------------------------------------------------------------------- scenario in words

_duration = KINDS["duration"].format


def _money(value: Any, currency: str) -> str:
    """Money with the currency code, for prose ("1,234.50 EUR")."""
    return f"{KINDS['money'].format(value)} {currency}"


def _percent(value: Any) -> str:
    """A share as a short percentage for prose ("50%", "12.5%")."""
    return f"{100 * value:.3g}%" if finite(value) else NA


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
        return f"notifications, reacting in {_duration(_mean(option.reaction))} on average"
    interval = getattr(option, "interval", None)
    every = _duration(_mean(interval))
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
            f"for {_duration(_mean(session.duration))}"
        )
        if session.probability < 1:
            text += f" ({_percent(session.probability)} of those days)"
        parts.append(text)
    return "online " + " and ".join(parts)


def _profile(name: str, profile: Any) -> str:
    options = profile.discovery
    if len(options) == 1:
        finds = _discovery(options[0])
    else:
        finds = ", ".join(
            f"{_percent(getattr(o, 'share', math.nan))} {_discovery(o)}" for o in options
        )
    label = f"{name} ({_percent(profile.share)}"
    if profile.description:
        label += f", {profile.description.rstrip('.')}"
    return f"{label}: {_availability(profile)}, finding tasks by {finds})"


def _task_type(name: str, task: Any, share: float | None, currency: str) -> str:
    if task.reward is not None:
        pay = f"{_money(_mean(task.reward), currency)} per task"
    else:
        pay = f"{_money(_mean(task.pay_rate), currency)} per hour of effort"
    text = f"{name}"
    if share is not None:
        text += f" {_percent(share)}"
    text += f" ({pay}, {_duration(_mean(task.effort))} of work"
    size = _mean(task.batch_size)
    if math.isinf(size):
        text += ", heavy-tailed batch sizes"
    elif finite(size) and size != 1:
        text += f", {size:.3g} tasks per batch on average"
    if task.expiry is not None:
        text += f", expires after {_duration(task.expiry)}"
    if task.regional:
        text += ", done in a shop of the worker's region"
        if task.travel is not None:
            text += f" with {_duration(_mean(task.travel))} of travel"
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
        f"{intro} simulates {plural(scn.workers, 'worker')} over {_duration(scn.horizon)} "
        f"({scn.engine} engine), in {plural(len(scn.profiles), 'profile')}: {profiles}.",
    ]
    if scn.regions:
        sentences.append(
            "Regions: " + ", ".join(f"{r} {_percent(s)}" for r, s in scn.regions.items()) + "."
        )
    market = scn.market()
    if len(market) == 1:
        sentences += [_demand(scn, req), _rules(plat, cur)]
    else:
        sentences.append(f"The market has {plural(len(market), 'platform')}; each worker is "
                         "registered on one or more.")
        for m in market:
            text = f"Platform {m.name!r} ({m.registered:,} registered"
            text += f": {m.description.strip().rstrip('.')})" if m.description else ")"
            sentences.append(f"{text}. {_demand(scn, m.requesters)} {_rules(m.platform, cur)}")
    sentences.append(f"Money is in {cur}.")
    return textwrap.fill(" ".join(sentences), width=WIDTH)


def _demand(scn: Scenario, req: Any) -> str:
    """The requesters of a platform in words."""
    types = "; ".join(_task_type(n, t, req.task_mix.get(n), scn.currency)
                      for n, t in scn.task_types.items())
    return (f"{plural(req.count, 'requester')} post about {req.batches_per_day:,.4g} batches of "
            f"tasks a day, of {plural(len(scn.task_types), 'task type')} (share of batches): "
            f"{types}.")


def _rules(plat: Any, cur: str) -> str:
    """A platform's allocation rule and levers in words."""
    rule = plat.allocation.rule
    described = RULES[rule].description if rule in RULES else ""
    text = f"Tasks are allocated by the {rule!r} rule"
    if described:
        text += f" ({described.split('.')[0].strip()})"
    params = getattr(plat.allocation, "model_extra", None) or {}
    if params:
        text += " with " + ", ".join(f"{key} = {value}" for key, value in params.items())
    text += f"; the platform takes {_percent(plat.commission)} commission"
    if plat.daily_cap is not None:
        text += f", caps each worker at {plat.daily_cap:,} tasks a day"
    if plat.max_claimed != 1:
        text += f", lets a worker hold {plat.max_claimed} tasks at once"
    if plat.payout_threshold > 0:
        text += f", pays out only above {_money(plat.payout_threshold, cur)}"
    return text + "."


# --------------------------------------------------------------------------- comparisons


def format_comparison(
    comparison: Comparison,
    currency: str = "EUR",
    profiles: Sequence[str] | None = None,
    title: str | None = None,
    metrics: Sequence[str] | None = None,
) -> str:
    """The metrics of a :class:`~sim.experiments.compare.Comparison` as text (the headline
    metrics by default): per metric and variant, the mean over replications with its
    interval, and the paired difference to the baseline with its interval and p-value,
    significant differences marked with ``*`` (the table of
    :func:`sim.presentation.content.comparison_table`)."""
    shown = comparison_table(comparison, currency, profiles, metrics).reset_index()
    pct, base = percent_level(comparison.level), baseline_label(comparison)
    narrow = {f"Difference to {base}": f"Diff. to {base}",
              f"{pct} interval of the difference": f"{pct} interval", "Significant": ""}
    if "Significant" in shown:
        shown["Significant"] = shown["Significant"].map({"yes": "*"}).fillna("")
    header = [narrow.get(c, c) for c in shown.columns if c != "Metric"]
    notes = comparison_notes(comparison, currency, title)
    return "\n".join([*(_wrap(n) for n in notes), "", frame(shown, "Metric", header)])


# --------------------------------------------------------------------------- calibration

_UNIT_WIDTH = 22
"""Units of calibration targets are cut to this many characters in the terminal."""


def format_calibration(report: CalibrationReport) -> str:
    """The calibration report as text: the verdict, then the fitted, held-out and input
    targets, each with the published value and band, the simulated mean and interval, and
    whether it is within the band."""
    shown = calibration_table(report).drop(columns=["Quantity", "Role"])
    shown["Unit"] = shown["Unit"].astype(str).str.slice(0, _UNIT_WIDTH)
    blocks = [f"{title}:\n{frame(shown[(report.table['role'] == role).to_numpy()])}"
              for role, title in CALIBRATION_ROLES.items() if (report.table["role"] == role).any()]
    return "\n\n".join(["\n".join(_wrap(n) for n in calibration_notes(report)), *blocks])


# --------------------------------------------------------------------------- experiments


def format_sweep(result: SweepResult, metrics: Sequence[str], currency: str = "EUR") -> str:
    """Per metric, a table of the grid's points: swept values, mean over replications and its
    interval (the table of :func:`sim.presentation.content.sweep_table`)."""
    reps = int(result.runs["replication"].nunique())
    shown = sweep_table(result.table(metrics), result.parameters, result.level, currency)
    return "\n\n".join(f"{label}: mean over {plural(reps, 'replication')}\n"
                        + frame(part.drop(columns="Metric"))
                        for label, part in shown.groupby("Metric", sort=False))


def format_sensitivity(result: SensitivityResult, currency: str = "EUR") -> str:
    """What was computed, then per output a table of the parameters' indices with their
    bootstrap intervals (the table of :func:`sim.presentation.content.sensitivity_table`)."""
    shown = sensitivity_table(result.indices, result.level, currency)
    notes = sensitivity_notes(result.method, result.level, len(result.x))
    blocks = [f"{label}\n{frame(part.drop(columns='Output'))}"
              for label, part in shown.groupby("Output", sort=False)]
    return "\n\n".join(["\n".join(_wrap(n) for n in notes), *blocks])
