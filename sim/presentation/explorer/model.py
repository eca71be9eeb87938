"""What the policy explorer computes, without any widget: the levers a page shows, the
comparison they ask for, errors mapped back to the field that caused them, the side-by-side
table, the plain-words sentences and the exports.

The page (:mod:`sim.presentation.explorer.app`) only reads widgets into a :class:`Request`
and shows what these functions return, so everything here is tested without a browser
(tests/test_explorer.py). The comparison itself is :func:`sim.compare`, run with the paired
seeds of every comparison: the page shows exactly what ``sim.compare`` returns for the same
settings.

Switches (:data:`SWITCHES`) are shown when the scenario uses what they switch: adaptive labour
supply, and in a market of several platforms, multi-homing (off: each worker on one platform
only). In such a market each side also says which platform its rule and levers apply to
(``target``: every platform, or one of them; docs/platforms.md).
"""

from __future__ import annotations

import io
import math
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.analysis.catalogue import (
    KINDS,
    PROFILE_SHARE,
    comparison_metrics,
    finite,
    format_metric,
    metric,
)
from sim.experiments.compare import Comparison, compare, write_comparison
from sim.experiments.design import default_workers
from sim.foundation.errors import MicroworkError, ScenarioError
from sim.foundation.units import format_duration
from sim.presentation.content import comparison_table, percent_level
from sim.presentation.figures import registry
from sim.presentation.html import build_report
from sim.presentation.text import describe_scenario
from sim.results.storage import write_folder
from sim.scenario import size
from sim.scenario.allocation import RULE_PARAMS
from sim.scenario.loading import load_scenario, override
from sim.scenario.schema import Scenario

SCENARIO_DIR = Path(__file__).resolve().parents[3] / "scenarios"
"""The shipped scenarios (``scenarios/*.yaml`` of a source checkout)."""
BASELINE, ALTERNATIVE = "baseline", "alternative"
"""Names of the two variants of an explorer comparison."""
SIDES = (BASELINE, ALTERNATIVE)
DEFAULT_HORIZON = "7d"
"""Horizon of the page's runs unless changed: a comparison then takes seconds."""
DEFAULT_REPLICATIONS = 4
DEFAULT_SEED = 1
SECONDS_PER_TASK = 6e-5
"""Rough wall time of a run per task released, measured on the 2-core machine
(BENCHMARKS.md, "Policy explorer"): the page's estimate of how long a comparison takes."""
WINDOW_RULES = tuple(name for name, spec in RULE_PARAMS.items() if "window" in
                     spec.params.model_fields)
PERIODS = ("day", "week", "run")


@dataclass(frozen=True)
class Lever:
    """A control of one side (baseline or alternative): its name on the page, the scenario
    path it sets, its label and kind (``rule``, ``text``: a value read as YAML, empty for
    none; ``duration``; ``period``; ``switch``)."""

    name: str
    path: str
    label: str
    kind: str = "text"
    help: str = ""


LEVERS: tuple[Lever, ...] = (
    Lever("rule", "platform.allocation.rule", "Allocation rule", "rule"),
    Lever("window", "platform.allocation.window", "Window (window rules)", "duration",
          "e.g. 60s, 5min"),
    Lever("period", "platform.allocation.period", "Period (least_earned)", "period"),
    Lever("daily_cap", "platform.daily_cap", "Daily cap (tasks per worker)", help="empty: none"),
    Lever("monthly_cap", "platform.monthly_cap", "Monthly cap (money per worker)",
          help="empty: none"),
    Lever("minimum_pay_rate", "platform.minimum_pay_rate", "Minimum pay (per hour of effort)",
          help="empty: none"),
    Lever("demand_elasticity", "platform.demand_elasticity", "Demand elasticity"),
    Lever("commission", "platform.commission", "Commission (share of the reward)"),
    Lever("payout_threshold", "platform.payout_threshold", "Payout threshold (money)"),
    Lever("expiry", "task_types.*.expiry", "Expiry of every task type", "duration",
          help="empty: as in the scenario"),
)
"""The levers each side sets, in page order."""
LEVER_NAMES = tuple(lever.name for lever in LEVERS)

EVERY = "every platform"
"""The ``target`` of a side whose levers apply to all the platforms of a market."""


@dataclass(frozen=True)
class Switch:
    """An on/off control of one side: its label, the scenario path its errors name, whether a
    scenario uses it, its state in a scenario, and the overrides that turn it on or off."""

    label: str
    path: str
    used: Callable[[Scenario], bool]
    state: Callable[[Scenario], bool]
    overrides: Callable[[Scenario, bool], dict[str, Any]]


def _adaptive_used(scenario: Scenario) -> bool:
    supply = scenario.supply.model_dump(exclude_defaults=True)
    return any(p.supply is not None for p in scenario.profiles.values()) or bool(supply)


def _multi_homing(scenario: Scenario) -> bool:
    """Some profile's workers register on more than one platform."""
    return scenario.platforms is not None and any(
        p.platforms is not None and p.platforms.count.mean() > 1
        for p in scenario.profiles.values())


def _single_homing(scenario: Scenario, on: bool) -> dict[str, Any]:
    """Multi-homing as the scenario has it (on), or every worker on one platform (off)."""
    if on:
        return {}
    return {f"profiles.{name}.platforms.count": 1 for name, p in scenario.profiles.items()
            if p.platforms is not None}


SWITCHES: dict[str, Switch] = {
    "adaptive": Switch("Adaptive labour supply (workers give up, leave, join)",
                       "supply.adaptive", _adaptive_used,
                       lambda scn: scn.supply.adaptive,
                       lambda scn, on: {"supply.adaptive": on}),
    "multihoming": Switch("Workers on several platforms (off: each on one)",
                          "profiles.*.platforms.count", _multi_homing, _multi_homing,
                          _single_homing),
}
"""Switches shown when the scenario uses them."""

COMMON: dict[str, str] = {"horizon": "horizon", "workers": "workers"}
"""Settings of the scenario itself (both sides): control name -> scenario path."""


def shipped_scenarios(folder: Path = SCENARIO_DIR) -> dict[str, Path]:
    """The shipped scenario files by name (comparison specs and sweeps left out)."""
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "variants" not in data and (
                "profiles" in data or "extends" in data):
            found[path.stem] = path
    return found


def switches_of(scenario: Scenario) -> list[str]:
    """The switches the scenario uses: ``adaptive`` when some profile has labour-supply
    behaviours or the market lets new workers join; ``multihoming`` when workers of a market
    of several platforms register on more than one."""
    return [name for name, switch in SWITCHES.items() if switch.used(scenario)]


def targets_of(scenario: Scenario) -> list[str]:
    """What a side's levers may apply to: every platform, or one of a market's (only every
    platform for a scenario with one)."""
    return [EVERY, *(scenario.platforms or {})]


def _platform_of(scenario: Scenario, target: str) -> Any:
    """The platform rules a side's controls start from: the named platform's (resolved), or
    the scenario's ``platform`` section for every platform."""
    for m in scenario.market():
        if m.name == target:
            return m.platform
    return scenario.platform


def lever_paths(scenario: Scenario, target: str, path: str) -> list[str]:
    """The scenario paths a lever of ``platform`` is written to for ``target``: itself with one
    platform; in a market, that platform's, or every platform's for :data:`EVERY`."""
    if scenario.platforms is None or not path.startswith("platform."):
        return [path]
    names = list(scenario.platforms) if target == EVERY else [target]
    return [f"platforms.{name}.{path}" for name in names]


def _text(value: Any) -> str:
    """A scenario value as a page field shows it (empty for none)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def side_defaults(scenario: Scenario, target: str = EVERY) -> dict[str, Any]:
    """One side's controls as the scenario sets them, for the platform ``target`` (its
    rules; for every platform, the scenario's ``platform`` section)."""
    plat = _platform_of(scenario, target)
    params = plat.allocation.params()  # validated: durations in seconds
    expiries = {t.expiry for t in scenario.task_types.values()}
    out: dict[str, Any] = {
        "rule": plat.allocation.rule,
        "window": format_duration(getattr(params, "window", 60.0)),
        "period": getattr(params, "period", "day"),
        "daily_cap": _text(plat.daily_cap),
        "monthly_cap": _text(plat.monthly_cap),
        "minimum_pay_rate": _text(plat.minimum_pay_rate),
        "demand_elasticity": _text(plat.demand_elasticity),
        "commission": _text(plat.commission),
        "payout_threshold": _text(plat.payout_threshold),
        "expiry": format_duration(expiries.pop()) if len(expiries) == 1 and None not in expiries
        else "",
    }
    for name, switch in SWITCHES.items():
        out[name] = bool(switch.state(scenario))
    out["target"] = target if target in targets_of(scenario) else EVERY
    return out


@dataclass
class Request:
    """What the page asks for: the scenario, its horizon and workers, replications, seed and
    processes, and each side's controls (missing controls: as the scenario sets them)."""

    scenario: Scenario
    horizon: str = DEFAULT_HORIZON
    workers: str = ""
    replications: int = DEFAULT_REPLICATIONS
    seed: int = DEFAULT_SEED
    processes: int = field(default_factory=default_workers)
    sides: dict[str, dict[str, Any]] = field(default_factory=dict)


def _value(text: Any) -> Any:
    """A text field's value read as YAML, as ``--set`` does (empty: None)."""
    if not isinstance(text, str):
        return text
    text = text.strip()
    if not text:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def side_overrides(scenario: Scenario, controls: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted-path overrides of ``scenario`` one side's controls ask for: only what differs
    from the scenario, so that the result folder's variants read as the changes they are."""
    current = side_defaults(scenario, controls.get("target", EVERY))
    wanted = {**current, **controls}
    target = current["target"]
    out: dict[str, Any] = {}
    rule = wanted["rule"]
    allocation: dict[str, Any] = {"rule": rule}
    if rule in WINDOW_RULES:
        allocation["window"] = _value(wanted["window"])
    if rule == "least_earned":
        allocation["period"] = wanted["period"]
    same_rule = rule == current["rule"]
    if not (same_rule and all(wanted[k] == current[k] for k in allocation if k != "rule")):
        out.update(dict.fromkeys(lever_paths(scenario, target, "platform.allocation"),
                                 allocation))
    for lever in (lever for lever in LEVERS if lever.kind == "text"):
        if wanted[lever.name] != current[lever.name]:
            out.update(dict.fromkeys(lever_paths(scenario, target, lever.path),
                                     _value(wanted[lever.name])))
    if wanted["expiry"] != current["expiry"] and _value(wanted["expiry"]) is not None:
        for name in scenario.task_types:
            out[f"task_types.{name}.expiry"] = _value(wanted["expiry"])
    for name, switch in SWITCHES.items():
        if bool(wanted.get(name)) != current[name]:
            out.update(switch.overrides(scenario, bool(wanted[name])))
    return out


def common_overrides(request: Request) -> dict[str, Any]:
    """The overrides of the scenario itself: horizon and number of workers, when given."""
    out = {}
    for name, path in COMMON.items():
        value = _value(getattr(request, name))
        if value is not None:
            out[path] = value
    return out


# --------------------------------------------------------------------------- errors


def _control_of(line: str, paths: Mapping[str, str]) -> tuple[str | None, str]:
    """The control whose scenario path a ScenarioError line names, and the line from that
    path on. The last path named counts: earlier ones belong to the ``after override ...``
    prefix. A path with ``*`` (every task type) matches any name there."""
    best, where, length = None, -1, 0
    for name, path in paths.items():
        head, star, tail = path.partition("*")
        for match in re.finditer(re.escape(head) + (r"[\w-]+" + re.escape(tail) if star else "")
                                 + ": ", line):
            at, span = match.start(), match.end() - match.start()
            if at > where or (at == where and span > length):
                best, where, length = name, at, span
    return best, (line[where:] if best is not None else line)


def check(request: Request) -> tuple[Scenario, dict[str, dict[str, Any]], dict[str, str]]:
    """The scenario with the common settings, each side's overrides, and the errors found,
    keyed by control (``horizon``, ``baseline.daily_cap``, ... ; ``general`` for the rest).
    Nothing runs when the errors are not empty."""
    errors: dict[str, str] = {}

    def note(exc: MicroworkError, paths: Mapping[str, str], prefix: str) -> None:
        for line in str(exc).splitlines():
            # a rule's parameter is reported under its allocation: name the parameter's path
            line = re.sub(r"platform\.allocation: (window|period): ", r"platform.allocation.\1: ",
                          line)
            name, message = _control_of(line, paths)
            key = f"{prefix}{name}" if name else "general"
            errors.setdefault(key, message)  # the first problem of a field (expiry: of all)

    try:
        base = override(request.scenario, common_overrides(request))
    except ScenarioError as exc:
        note(exc, COMMON, "")
        return request.scenario, {}, errors
    prefix = "platforms.*." if base.platforms is not None else ""
    paths = {lever.name: (prefix + lever.path if lever.path.startswith("platform.")
                          else lever.path) for lever in LEVERS}
    paths["rule"] = prefix + "platform.allocation"  # the rule, or the allocation as a whole
    paths.update({name: switch.path for name, switch in SWITCHES.items()})
    sides = {}
    for side in SIDES:
        overrides = side_overrides(base, request.sides.get(side, {}))
        try:
            override(base, overrides)
        except ScenarioError as exc:
            note(exc, paths, f"{side}.")
        sides[side] = overrides
    return base, sides, errors


def estimate_seconds(scenario: Scenario, replications: int, processes: int) -> float:
    """Rough wall time of a comparison of two variants (:data:`SECONDS_PER_TASK`)."""
    tasks = size.estimate(scenario).tasks
    runs = 2 * replications
    rounds = math.ceil(runs / max(1, min(processes, runs)))
    return 1.0 + rounds * max(0.2, tasks * SECONDS_PER_TASK)


# --------------------------------------------------------------------------- running


def run(request: Request, progress: Callable[[int, int], object] | None = None,
        cancel: Callable[[], bool] | None = None) -> Comparison:
    """The comparison the request asks for: :func:`sim.compare` of the two sides with paired
    seeds (raises MicroworkError naming the first problem when :func:`check` finds one)."""
    base, sides, errors = check(request)
    if errors:
        raise ScenarioError("; ".join(f"{k}: {v}" for k, v in errors.items()))
    return compare(base, sides, request.replications, request.seed, request.processes,
                   baseline=BASELINE, progress=progress or False, cancel=cancel,
                   latencies=True)


# --------------------------------------------------------------------------- what it shows


def side_by_side(comparison: Comparison, currency: str = "EUR",
                 profiles: Sequence[str] | None = None) -> pd.DataFrame:
    """The headline metrics with one row per metric: the baseline's and the alternative's
    means with their intervals, the paired difference with its interval, and ``*`` for the
    significant ones (the values of :func:`sim.presentation.content.comparison_table`)."""
    table = comparison_table(comparison, currency, profiles).reset_index()
    pct = percent_level(comparison.level)
    diff_col, diff_ci = f"Difference to {BASELINE}", f"{pct} interval of the difference"
    rows = []
    for label, group in table.groupby("Metric", sort=False):
        by = group.set_index("Variant")
        base, alt = by.loc[BASELINE], by.loc[ALTERNATIVE]
        rows.append({
            "Metric": label,
            "Baseline": f"{base['Mean']} {base[f'{pct} interval']}",
            "Alternative": f"{alt['Mean']} {alt[f'{pct} interval']}",
            "Difference": f"{alt[diff_col]} {alt[diff_ci]}",
            "p": alt["p"],
            "Significant": "*" if alt["Significant"] == "yes" else "",
        })
    return pd.DataFrame(rows)


def _subject(key: str) -> str:
    base, _, profile = key.partition(".")
    if base == PROFILE_SHARE and profile:
        return f"the {profile} profile's share of earnings"
    name = metric(key).name
    return name[:1].lower() + name[1:] if not name[:2].isupper() else name


def _with_unit(key: str, value: float, currency: str) -> str:
    text = format_metric(key, value)
    unit = KINDS[metric(key).kind].unit.format(currency=currency)
    return f"{text} {unit}" if unit else text


def largest_changes(comparison: Comparison, currency: str = "EUR", n: int = 3,
                    profiles: Sequence[str] | None = None) -> list[str]:
    """Plain-words sentences for the ``n`` largest significant changes of the headline
    metrics (relative to the baseline's value): "the distressed profile's share of earnings
    falls from 95.6% to 88.1% [86.9%, 89.3%]", the bracket being the interval of the new
    value given by the paired difference (the baseline's mean plus the difference's
    interval)."""
    keys = comparison_metrics(comparison.metrics, profiles)
    means = comparison.table(keys).set_index(["metric", "variant"])["mean"]
    paired = comparison.paired(metrics=keys).set_index(["metric", "variant"])
    alpha = 1 - comparison.level
    found = []
    for key in keys:
        d = paired.loc[(key, ALTERNATIVE)]
        base = float(means.loc[(key, BASELINE)])
        if not (finite(d["p_value"]) and d["p_value"] < alpha and finite(base)):
            continue
        size_ = abs(d["mean_diff"]) / abs(base) if base else math.inf
        new = base + d["mean_diff"]
        verb = "rises" if d["mean_diff"] > 0 else "falls"
        low, high = (_with_unit(key, base + d[c], currency) for c in ("ci_low", "ci_high"))
        sentence = (f"{_subject(key)} {verb} from {_with_unit(key, base, currency)} to "
                    f"{_with_unit(key, new, currency)} [{low}, {high}]")
        found.append((size_, sentence[:1].upper() + sentence[1:]))
    found.sort(key=lambda item: -item[0])
    return [sentence + "." for _, sentence in found[:n]]


def describe(scenario: Scenario) -> str:
    """The scenario in plain words (the text of ``microwork validate`` and the report)."""
    return describe_scenario(scenario)


# --------------------------------------------------------------------------- exports


def manifest_extra(request: Request, sides: Mapping[str, Any]) -> dict[str, Any]:
    """What the exported folder's manifest says about how the explorer ran it."""
    return {"written_from": "microwork explore", "scenario": request.scenario.name,
            "scenario_overrides": common_overrides(request), "seed": request.seed,
            "variants": dict(sides)}


def write_result(comparison: Comparison, folder: Path, currency: str = "EUR",
                 extra: Mapping[str, Any] | None = None) -> Path:
    """Write the result folder ``microwork compare`` writes (tables, manifest, plots)."""

    def fill(target: Path) -> None:
        write_comparison(comparison, target, extra)
        registry.save_comparison_plots(comparison, target, currency)

    return write_folder(folder, "comparison", fill)


def result_zip(comparison: Comparison, name: str = "explore-compare", currency: str = "EUR",
               extra: Mapping[str, Any] | None = None) -> bytes:
    """The result folder as a zip archive (one folder ``name/`` inside)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_result(comparison, Path(tmp) / name, currency, extra)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                archive.write(path, Path(name) / path.relative_to(folder))
        return buffer.getvalue()


def report_html(comparison: Comparison, currency: str = "EUR",
                extra: Mapping[str, Any] | None = None) -> str:
    """The self-contained HTML report of the result folder (``microwork report``)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_result(comparison, Path(tmp) / "explore-compare", currency, extra)
        return build_report(folder)


def load(source: str | Path | Scenario | None) -> Scenario:
    """The scenario the page starts with: a Scenario, a file, a shipped scenario's name, or
    the baseline scenario."""
    if isinstance(source, Scenario):
        return source
    if source is None:
        source = "baseline"
    shipped = shipped_scenarios()
    if str(source) in shipped:
        return load_scenario(shipped[str(source)])
    return load_scenario(source)


def seconds_text(seconds: float) -> str:
    """An estimate as "about 12 s"."""
    return f"about {format_duration(max(1.0, round(seconds)))}"

