"""Readable HTML for people: notebook displays of results, and the shareable report page.

Both are rendered from the Jinja2 templates of ``sim/presentation/templates/`` with
autoescaping on, so scenario text (names, descriptions, variant changes) can never inject
markup:

* in Jupyter, :class:`sim.RunResult`, :class:`~sim.experiments.compare.Comparison` and
  :class:`~sim.experiments.calibration.CalibrationReport` display as HTML tables through their
  ``_repr_html_``, which call :func:`run_html`, :func:`comparison_html` and
  :func:`calibration_html` (``fragment.html``);
* ``microwork report RESULT_DIR`` calls :func:`write_report`, which turns a run, comparison,
  sweep, sensitivity or calibration folder (read by :mod:`sim.presentation.folders`) into one
  self-contained ``report.html`` (``report.html``, its styles in ``report.css``): the scenario
  in plain words, the headline tables, every figure embedded as a PNG data URI and the
  manifest. The page loads nothing from anywhere (no scripts, fonts or network), so it can be
  mailed to someone who has no Python, and it prints cleanly.

The tables are those of :mod:`sim.presentation.content`, the same as the terminal's.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from sim.foundation.version import __version__
from sim.presentation.content import (
    Section,
    Table,
    calibration_section,
    comparison_section,
    manifest_section,
    run_sections,
)
from sim.presentation.folders import read_folder
from sim.presentation.text import describe_scenario
from sim.results.storage import REPORT_FILE, check_report_target, remove_stale, replacing

if TYPE_CHECKING:
    from sim.experiments.calibration import CalibrationReport
    from sim.experiments.compare import Comparison
    from sim.results.run_result import RunResult


REPORT_NAME = REPORT_FILE
"""File name of the report written into a result folder by default."""

_NUMBER = re.compile(r"^[\[+\-]?(?:\d|n/a$|\.\d)")
"""A cell that reads as a number (or an interval, a signed difference, n/a)."""


def _numeric(values: Iterable[str]) -> bool:
    """True when most non-empty cells of a column read as numbers (they are right-aligned)."""
    cells = [v for v in values if v]
    return bool(cells) and sum(bool(_NUMBER.match(v)) for v in cells) * 2 > len(cells)


def _table_view(table: Table) -> dict[str, Any]:
    """What the ``table`` macro draws: the columns with their alignment, and per row its cells,
    the heading of the group it opens (or None) and whether it is a significant difference."""
    df = table.frame
    names = [c for c in df.columns if c != table.group]
    text = {c: ["" if v is None or v != v else str(v) for v in df[c]] for c in names}
    numeric = {c: _numeric(text[c]) for c in names}
    rows, previous = [], None
    for i in range(len(df)):
        heading = None
        if table.group is not None and df[table.group].iloc[i] != previous:
            heading = previous = df[table.group].iloc[i]
        rows.append({"heading": heading,
                     "significant": "Significant" in text and text["Significant"][i] == "yes",
                     "cells": [{"text": text[c][i], "numeric": numeric[c]} for c in names]})
    return {"caption": table.caption, "rows": rows,
            "columns": [{"name": str(c), "numeric": numeric[c]} for c in names]}


def _png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_ENVIRONMENT = Environment(loader=PackageLoader("sim.presentation", "templates"),
                           autoescape=True, trim_blocks=True, lstrip_blocks=True,
                           undefined=StrictUndefined, keep_trailing_newline=True)
_ENVIRONMENT.filters.update(table_view=_table_view, png_data_uri=_png_data_uri,
                            stem=lambda name: Path(name).stem)


def _fragment(sections: Sequence[Section]) -> str:
    """Sections as an HTML fragment for notebooks."""
    return _ENVIRONMENT.get_template("fragment.html").render(sections=sections)


def run_html(result: RunResult) -> str:
    """HTML fragment of a run for notebooks: the headline table and the per-profile table (the
    content of ``microwork run``'s printout)."""
    return _fragment(run_sections(result))


def comparison_html(comparison: Comparison, currency: str = "EUR",
                    profiles: Sequence[str] | None = None,
                    metrics: Sequence[str] | None = None) -> str:
    """HTML fragment of a comparison: what was compared and the metrics (default: headline)
    per variant with intervals and paired differences to the baseline."""
    return _fragment([comparison_section(comparison, currency, profiles, metrics)])


def calibration_html(report: CalibrationReport) -> str:
    """HTML fragment of a calibration report: the verdict and one row per target."""
    return _fragment([calibration_section(report)])


def _sentences(description: str) -> list[str]:
    """describe_scenario's wrapped text, one paragraph per sentence (workers and profiles,
    regions, task types, platform rules)."""
    return re.split(r"(?<=\.)\s+(?=[A-Z0-9])", " ".join(description.split()))


def build_report(folder: str | Path) -> str:
    """The whole report page of a result folder as one HTML string: everything inline (styles,
    figures as PNG data URIs), no script, nothing fetched."""
    rep = read_folder(folder)
    if rep.scenario is not None:
        scenario = Section("The scenario in plain words", "scenario",
                           _sentences(describe_scenario(rep.scenario)))
    else:
        scenario = Section("The scenario", "scenario",
                           ["The manifest of this folder does not record the scenario."])
    sections = [scenario, *rep.sections]
    if rep.pictures:
        sections.append(Section("Figures", "figures", pictures=rep.pictures))
    sections.append(manifest_section(rep.manifest))
    made = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    return _ENVIRONMENT.get_template("report.html").render(
        title=rep.title, kind=rep.kind, folder=rep.folder.name, made=made,
        version=__version__, sections=sections)


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
