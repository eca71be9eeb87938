"""One machinery per concern in presentation: the metric catalogue names and formats every
metric the same way in the terminal and on HTML pages, and the figure registry is the one list
of standard figures that savers, accessors, the report page and the result folders agree on."""

from __future__ import annotations

import fnmatch
import html
import re
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import sim
from sim.analysis import catalogue
from sim.analysis.metrics import summary_keys
from sim.experiments.calibration import CalibrationReport
from sim.experiments.compare import Comparison
from sim.presentation import accessors, text
from sim.presentation import html as html_pages
from sim.presentation.figures import registry
from sim.results.storage import RESULT_FILES
from tests.conftest import SMALL_SCENARIO
from tests.test_plots import synthetic_comparison, synthetic_run

matplotlib.use("Agg")

PROFILES = ("always_on", "employee", "student")
TARGETS = ("fr_share_casual", "mturk_worker_pool")
KEYS = [*summary_keys(PROFILES), *(f"target.{t}" for t in TARGETS)]


# --------------------------------------------------------------------------- the catalogue


@pytest.mark.parametrize("key", KEYS)
def test_every_metric_is_catalogued(key: str) -> None:
    entry = catalogue.metric(key)
    assert entry.kind in catalogue.KINDS
    assert entry.name != key, f"{key} is not in the catalogue"
    label = catalogue.metric_label(key, "USD")
    assert "{" not in label and ("USD" in label) == (entry.kind in ("money", "rate"))
    assert catalogue.format_metric(key, float("nan")) == catalogue.NA


def test_labels_units_and_kinds() -> None:
    assert catalogue.metric("monthly_earnings_mean").label == "Monthly earnings, mean ({currency})"
    assert catalogue.metric_label("hourly_paid_median.student", "EUR") == (
        "Median hourly pay, paid work only, student (EUR/h)")
    assert catalogue.metric_label("earnings_share.student") == "Earnings share of student"
    assert catalogue.metric_label("target.fr_share_casual") == "Calibration target fr_share_casual"
    assert catalogue.metric_label("not_a_metric") == "not_a_metric"
    assert catalogue.format_metric("fill_rate", 0.125) == "12.5%"
    assert catalogue.format_metric("fill_rate", 0.0125, difference=True) == "+1.25 pp"
    assert catalogue.format_metric("monthly_earnings_mean", -1234.5, difference=True) == (
        "-1,234.50")
    assert catalogue.format_metric("claim_latency_mean", 90.0, difference=True) == "+1.5min"
    assert catalogue.format_metric("unpaid_minutes_per_paid_hour", 4.5) == "4.5 min"
    assert catalogue.format_metric("target.fr_fte_jobs", 10730.4) == "10,730"  # no 1.073e+04
    assert catalogue.format_metric("target.fr_share_casual", 0.79654) == "0.7965"
    assert catalogue.comparison_metrics(["earnings_share.b", "fill_rate", "earnings_share.a",
                                         "earnings_gini"], ["b"]) == [
        "earnings_gini", "fill_rate", "earnings_share.b", "earnings_share.a"]


def _constant_comparison(value: float) -> Comparison:
    """Two variants whose every catalogued metric is ``value`` (and ``value`` + 1) in every
    replication."""
    rows = [{"variant": variant, "replication": r, "seed": r,
             **dict.fromkeys(KEYS, value + shift)}
            for variant, shift in (("base", 0.0), ("other", 1.0)) for r in range(3)]
    return Comparison(runs=pd.DataFrame(rows), baseline="base",
                      variants={"base": {}, "other": {}}, earnings={})


def _text_cells(page: str) -> dict[tuple[str, str], list[str]]:
    """Cells of format_comparison's table by (metric label, variant)."""
    cells, label = {}, ""
    for line in page.splitlines():
        if line and not line.startswith(" "):
            label = line
        elif line.startswith("  ") and label:
            parts = re.split(r"\s{2,}", line.strip())
            cells[(label, parts[0])] = parts[1:]
    return cells


def _html_cells(page: str) -> dict[tuple[str, str], list[str]]:
    """Cells of comparison_html's table by (metric label, variant)."""
    cells, label = {}, ""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        heading = re.fullmatch(r'<th colspan="\d+">(.*)</th>', row)
        if heading:
            label = html.unescape(heading.group(1))
            continue
        values = [html.unescape(v) for v in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if values:
            cells[(label, values[0])] = [v for v in values[1:] if v not in ("yes", "no")]
    return cells


@pytest.mark.parametrize("value", [12345.0, 0.123456, -0.5])
def test_text_and_html_format_every_metric_the_same(value: float) -> None:
    comparison = _constant_comparison(value)
    shown = text.format_comparison(comparison, "USD", metrics=KEYS)
    page = html_pages.comparison_html(comparison, "USD", metrics=KEYS)
    in_text, in_html = _text_cells(shown), _html_cells(page)
    labels = {catalogue.metric_label(key, "USD") for key in KEYS}
    assert {label for label, _ in in_html} == labels
    for key in KEYS:
        label = catalogue.metric_label(key, "USD")
        for variant in ("base", "other"):
            html_cells = [c for c in in_html[(label, variant)] if c not in ("baseline", "")]
            text_cells = [c for c in in_text[(label, variant)] if c not in ("baseline", "*")]
            assert text_cells == html_cells, (key, variant)
        assert in_html[(label, "base")][0] == catalogue.format_metric(key, value)


def test_a_count_reads_with_thousands_separators_everywhere() -> None:
    comparison = _constant_comparison(12345.0)
    shown = text.format_comparison(comparison, metrics=["tasks_released"])
    page = html_pages.comparison_html(comparison, metrics=["tasks_released"])
    assert _text_cells(shown)[("Tasks released", "base")][0] == "12,345"
    assert _html_cells(page)[("Tasks released", "base")][0] == "12,345"
    assert "e+04" not in shown and "e+04" not in page


# --------------------------------------------------------------------------- the registry


@pytest.fixture(scope="module")
def subjects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """Subjects of every kind of standard figure: synthetic runs and comparisons, a
    calibration report, tiny real sweeps (one and two axes) and sensitivity analyses."""
    scenario = {**SMALL_SCENARIO, "horizon": "1d"}
    tasks, workers = synthetic_run()
    market = {**scenario, "platforms": {"a": {"registered": 40}, "b": {"registered": 20}}}
    runs = [registry.RunSubject(tasks, workers, 7 * 86_400.0, "USD"),
            registry.RunSubject(tasks.iloc[:0], workers.iloc[:0], 86_400.0),
            registry.RunSubject.of(sim.run(market, 1))]  # several platforms
    calibration = CalibrationReport("market", pd.DataFrame([{
        "id": "x_share", "role": "fitted", "published": 0.2, "tolerance": 0.05,
        "simulated": 0.21, "ci_low": 0.19, "ci_high": 0.23, "within": True}]))
    quiet: dict[str, Any] = {"replications": 1, "executor": "inprocess", "progress": False}
    sweeps = [sim.sweep(scenario, grid, **quiet) for grid in (
        {"platform.daily_cap": [3, None]},
        {"platform.daily_cap": [3, None], "requesters.batches_per_day": [20, 40]})]
    problem = {"batches": {"scale": "requesters.batches_per_day", "bounds": [0.5, 2]}}
    analyses = [sim.sensitivity(scenario, problem, method, 2, ["earnings_gini"], **quiet)
                for method in ("sobol", "morris")]
    with_latencies = synthetic_comparison()
    rng = np.random.default_rng(3)
    with_latencies.latencies = {v: rng.exponential(60.0, 200).tolist()
                                for v in with_latencies.variants}
    return {
        "run": runs,
        "comparison": [registry.ComparisonSubject(synthetic_comparison(), "USD"),
                       registry.ComparisonSubject(synthetic_comparison(), metrics=["fill_rate"]),
                       registry.ComparisonSubject(with_latencies)],
        "calibration": [calibration],
        "sweep": [registry.SweepSubject(s, "earnings_gini") for s in sweeps],
        "sensitivity": [registry.SensitivitySubject(a) for a in analyses],
    }


def test_every_registered_figure_draws(subjects: dict[str, list[Any]]) -> None:
    assert set(registry.FIGURES) == set(subjects)
    for kind, figures in registry.FIGURES.items():
        for figure in figures:
            drawn = [figure.draw(s, None) for s in subjects[kind] if figure.applies(s)]
            assert drawn, f"no subject has {kind} figure {figure.file}"
            assert all(isinstance(f, Figure) and f.axes for f in drawn), figure.file
            assert figure.caption and figure.file.endswith(".png")


def test_registered_file_names_are_those_result_folders_allow() -> None:
    """The storage module lists the files of each kind of result folder by hand (results may
    not import presentation): its PNG names must be the registry's."""
    for kind, figures in registry.FIGURES.items():
        allowed = {name for name in RESULT_FILES[kind] if name.endswith(".png")}
        assert {figure.pattern for figure in figures} == allowed, kind


def test_accessors_and_savers_follow_the_registry(subjects: dict[str, list[Any]],
                                                  tmp_path: Path) -> None:
    names = {kind: [figure.name for figure in registry.FIGURES[kind]]
             for kind in ("run", "comparison")}
    for kind, accessor in (("run", accessors.RunPlots), ("comparison", accessors.ComparisonPlots)):
        public = sorted(n for n in vars(accessor) if not n.startswith("_"))
        assert public == sorted(names[kind])
    sweep, two_axes = (s.result for s in subjects["sweep"])
    paths = registry.save_sweep_plots(two_axes, tmp_path / "sweep", ["earnings_gini", "fill_rate"])
    assert [p.name for p in paths] == ["lines_earnings_gini.png", "heatmap_earnings_gini.png",
                                       "lines_fill_rate.png", "heatmap_fill_rate.png"]
    assert [p.name for p in registry.save_sweep_plots(sweep, tmp_path, ["fill_rate"])] == [
        "lines_fill_rate.png"]
    for subject, name in zip(subjects["sensitivity"], ("sobol_indices.png", "morris.png"),
                             strict=True):
        saved = registry.save_sensitivity_plots(subject.result, tmp_path / name)
        assert [p.name for p in saved] == [name]
    saved = registry.save_calibration_plots(subjects["calibration"][0], tmp_path / "calibration")
    assert [p.name for p in saved] == ["calibration.png"]
    for path in tmp_path.rglob("*.png"):
        assert any(fnmatch.fnmatchcase(path.name, pattern)
                   for patterns in RESULT_FILES.values() for pattern in patterns), path


def test_captions_of_figure_files() -> None:
    assert registry.caption("sweep", "lines_fill_rate.png").startswith(
        "Fill rate (claimed before expiry) across the grid")
    assert registry.caption("sweep", "heatmap_monthly_earnings_mean.png", "USD").startswith(
        "Monthly earnings, mean (USD) in every cell")
    assert registry.caption("run", "lorenz.png") == registry.RUN[0].caption
    assert registry.caption("run", "my_own_plot.png") == "my own plot"


def test_an_empty_market_says_so_on_every_run_figure() -> None:
    tasks, workers = synthetic_run()
    empty = registry.RunSubject(tasks.iloc[:0], workers, 86_400.0)
    for figure in (f for f in registry.RUN if f.applies(empty)):
        texts = [t.get_text() for ax in figure.draw(empty, None).axes for t in ax.texts]
        assert registry.NO_TASKS in texts, figure.file


def test_figures_of_several_panels_refuse_an_axes() -> None:
    ax = Figure().add_subplot()
    with pytest.raises(ValueError, match="several panels"):
        registry.standard("comparison", "metric_intervals").draw(
            registry.ComparisonSubject(synthetic_comparison()), ax)
    assert np.isfinite(ax.get_xlim()).all()  # untouched
