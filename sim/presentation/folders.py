"""Reading result folders back for people: which kind of result a folder holds, and what its
report shows (sections of :mod:`sim.presentation.content` and the figures).

A run, comparison, sweep, sensitivity or calibration folder is read into a
:class:`FolderReport`: its manifest, its scenario (when the manifest records one), the sections
of its report and its figures, the standard ones (:mod:`sim.presentation.figures.registry`)
drawn now when the folder lacks them (after ``--no-plots``). A missing or damaged file raises
:class:`~sim.foundation.errors.StoreError` naming it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.catalogue import finite
from sim.experiments.calibration import CalibrationReport
from sim.experiments.compare import Comparison
from sim.foundation.errors import ScenarioError, StoreError, shown
from sim.presentation.content import (
    Picture,
    Section,
    Table,
    calibration_section,
    comparison_section,
    run_sections,
    sensitivity_method,
    sensitivity_notes,
    sensitivity_table,
    sweep_notes,
    sweep_table,
    variants_table,
)
from sim.presentation.figures.registry import (
    FIGURES,
    ComparisonSubject,
    RunSubject,
    caption,
)
from sim.presentation.figures.style import save_figure
from sim.results.run_result import load_result
from sim.results.storage import MANIFEST_FILE, manifest_kind, read_json, read_table
from sim.scenario.loading import validate
from sim.scenario.schema import Scenario


@dataclass
class FolderReport:
    """What a result folder holds, read for the report page."""

    kind: str
    """"run", "comparison", "sweep", "sensitivity" or "calibration"."""
    folder: Path
    manifest: dict[str, Any]
    scenario: Scenario | None
    title: str
    sections: list[Section] = field(default_factory=list)
    """The sections between the scenario and the figures."""
    pictures: list[Picture] = field(default_factory=list)
    """Every figure: the standard ones first, then any other PNG of the folder."""


_KIND_FILES = (("run", ("summary.json", "workers.parquet")),
               ("sweep", ("points.json", "table.csv")),
               ("sensitivity", ("indices.csv", "points.json")),
               ("comparison", ("runs.parquet", "table.csv")),
               ("calibration", ("calibration.csv",)))
"""Files that show the kind of a result folder whose manifest does not name it (in order: a
sweep folder also holds runs.parquet and table.csv, as a comparison does)."""


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


def _manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a result folder (StoreError when it is not a JSON object)."""
    manifest = read_json(folder / MANIFEST_FILE)
    if not isinstance(manifest, dict):
        raise StoreError(f"{folder / MANIFEST_FILE}: expected a JSON object, got "
                         f"{shown(manifest)}")
    return manifest


def _level(manifest: dict[str, Any]) -> float:
    level = manifest.get("level", 0.95)
    return float(level) if finite(level) and 0 < level < 1 else 0.95


def _scenario_from(manifest: dict[str, Any]) -> Scenario | None:
    data = manifest.get("scenario")
    if not isinstance(data, dict):
        return None
    try:
        return validate(data)
    except ScenarioError:
        return None


def _columns(path: Path, needed: Iterable[str], reader: Any = pd.read_csv) -> pd.DataFrame:
    """The table at ``path``, if it has the ``needed`` columns (else StoreError)."""
    frame = read_table(path, reader)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise StoreError(f"{path}: missing column(s) {', '.join(missing)}; is it the file "
                         "microwork wrote?")
    return frame


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    save_figure(fig, buffer)
    return buffer.getvalue()


def _pictures(folder: Path, kind: str, currency: str, subject: Any = None) -> list[Picture]:
    """The standard figures of a ``kind`` folder (with ``subject``: each drawn now when the
    folder lacks it), then every other PNG of the folder, captioned from the registry."""
    found, standard = [], set()
    for figure in FIGURES[kind] if subject is not None else ():
        if not figure.applies(subject):
            continue
        standard.add(figure.file)
        path = folder / figure.file
        if path.is_file():
            found.append(Picture(figure.file, figure.caption, path.read_bytes()))
        else:
            found.append(Picture(figure.file, f"{figure.caption} (drawn for this report)",
                                 _png(figure.draw(subject, None))))
    found += [Picture(path.name, caption(kind, path.name, currency), path.read_bytes())
              for path in sorted(folder.glob("*.png")) if path.name not in standard]
    return found


# --------------------------------------------------------------------------- readers


def _read_run(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    result = load_result(folder)
    return FolderReport(
        kind="run", folder=folder, manifest=manifest, scenario=result.scenario,
        title=f"Run of {result.scenario.name}, seed {result.seed}",
        sections=run_sections(result),
        pictures=_pictures(folder, "run", result.scenario.currency, RunSubject.of(result)))


def load_comparison(folder: Path) -> Comparison:
    """Rebuild the :class:`~sim.experiments.compare.Comparison` of a comparison folder from its
    ``runs.parquet``, ``earnings_replication0.parquet`` and ``manifest.json``."""
    manifest = _manifest(folder)
    runs = _columns(folder / "runs.parquet", ["variant", "replication"], pd.read_parquet)
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
    baselines = manifest.get("baselines")
    if not (isinstance(baselines, dict) and set(baselines) == set(variants)
            and set(baselines.values()) <= set(variants)):
        baselines = {}
    return Comparison(runs=runs, baseline=baseline, variants=variants, earnings=earnings,
                      level=_level(manifest), baselines=baselines)


def _read_comparison(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    comparison = load_comparison(folder)
    scenario = _scenario_from(manifest)
    cur = scenario.currency if scenario else "EUR"
    profiles = [str(n) for n in scenario.profiles] if scenario else None
    name = folder.name if scenario is None else scenario.name
    return FolderReport(
        kind="comparison", folder=folder, manifest=manifest, scenario=scenario,
        title=f"Comparison of {len(comparison.variants)} variants of {name}",
        sections=[Section("Variants compared", "variants",
                          tables=[Table(variants_table(comparison))]),
                  comparison_section(comparison, cur, profiles)],
        pictures=_pictures(folder, "comparison", cur, ComparisonSubject(comparison, cur)))


def _read_calibration(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    scenario = _scenario_from(manifest)
    table = _columns(folder / "calibration.csv",
                     ["id", "quantity", "role", "published", "unit", "tolerance", "simulated",
                      "ci_low", "ci_high", "within"])
    name = scenario.name if scenario else folder.name
    report = CalibrationReport(scenario=name, table=table)
    return FolderReport(
        kind="calibration", folder=folder, manifest=manifest, scenario=scenario,
        title=f"Calibration of {name}", sections=[calibration_section(report)],
        pictures=_pictures(folder, "calibration", scenario.currency if scenario else "EUR",
                           report))


def _read_sweep(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    scenario = _scenario_from(manifest)
    cur = scenario.currency if scenario else "EUR"
    table = _columns(folder / "table.csv", ["point", "metric", "mean", "ci_low", "ci_high"])
    columns = list(table.columns)
    parameters = columns[1:columns.index("metric")]
    shown_metrics = manifest.get("metrics")
    if isinstance(shown_metrics, list) and set(shown_metrics) & set(table["metric"]):
        table = table[table["metric"].isin(shown_metrics)]
    order = {metric: i for i, metric in enumerate(table["metric"].unique())}
    table = table.sort_values("metric", key=lambda m: m.map(order), kind="stable")
    level = _level(manifest)
    replications = manifest.get("replications")
    notes = sweep_notes(table["point"].nunique(),
                        replications if isinstance(replications, int) else None, level)
    name = scenario.name if scenario else folder.name
    section = Section("The sweep", "sweep", notes,
                      [Table(sweep_table(table, parameters, level, cur), group="Metric")])
    return FolderReport(kind="sweep", folder=folder, manifest=manifest, scenario=scenario,
                        title=f"Sweep of {name} over {', '.join(parameters) or 'its grid'}",
                        sections=[section], pictures=_pictures(folder, "sweep", cur))


def _read_sensitivity(folder: Path, manifest: dict[str, Any]) -> FolderReport:
    scenario = _scenario_from(manifest)
    cur = scenario.currency if scenario else "EUR"
    table = _columns(folder / "indices.csv",
                     ["output", "parameter", "index", "value", "ci_low", "ci_high"])
    level, method = _level(manifest), manifest.get("method")
    name = scenario.name if scenario else folder.name
    section = Section("Sensitivity indices", "indices", sensitivity_notes(method, level),
                      [Table(sensitivity_table(table, level, cur), group="Output")])
    return FolderReport(kind="sensitivity", folder=folder, manifest=manifest,
                        scenario=scenario, title=f"{sensitivity_method(method)} of {name}",
                        sections=[section], pictures=_pictures(folder, "sensitivity", cur))


_READERS = {"run": _read_run, "comparison": _read_comparison, "sweep": _read_sweep,
            "sensitivity": _read_sensitivity, "calibration": _read_calibration}


def read_folder(folder: str | Path) -> FolderReport:
    """Read a run, comparison, sweep, sensitivity or calibration folder for its report; a
    missing or damaged file raises StoreError naming it."""
    path = Path(folder)
    return _READERS[folder_kind(path)](path, _manifest(path))
