"""``microwork report``: one self-contained HTML page per result folder, checked as text and in a
real headless browser (Chromium from the system packages, driven through chromedriver).

The browser test needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``.ci/run`` installs
them). Without them it fails, so that CI can never pass by silently skipping it; set
``MICROWORK_SKIP_BROWSER=1`` to skip it on a machine without a browser.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import sim
from sim.cli import main
from sim.experiments.calibration import CalibrationReport
from sim.foundation.errors import StoreError
from sim.presentation import html as html_report
from sim.presentation.figures import registry
from sim.results import storage as folders_module
from tests.conftest import SMALL_SCENARIO

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "results" / "test-artefacts"
CHROMIUM = Path(os.environ.get("MICROWORK_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("MICROWORK_CHROMEDRIVER", "/usr/bin/chromedriver"))
SKIP_BROWSER = os.environ.get("MICROWORK_SKIP_BROWSER") == "1"


# --------------------------------------------------------------------------- result folders


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run folder, a run folder without plots, and a comparison folder of the small scenario,
    written by the ``microwork`` command itself."""
    base = tmp_path_factory.mktemp("report")
    scenario = base / "small.yaml"
    scenario.write_text(yaml.safe_dump(SMALL_SCENARIO))
    run, bare, comparison = base / "run", base / "bare", base / "compare"
    assert main(["run", str(scenario), "--seed", "3", "--out", str(run), "--quiet"]) == 0
    assert main(["run", str(scenario), "--out", str(bare), "--quiet", "--no-plots"]) == 0
    assert main(["compare", str(scenario), "--variant", "fcfs:", "--variant",
                 "lottery:platform.allocation={rule: lottery, window: 5min}",
                 "--replications", "3", "--processes", "1", "--out", str(comparison),
                 "--quiet"]) == 0
    return {"run": run, "bare": bare, "comparison": comparison}


def _sources(page: str) -> list[str]:
    """Every URL the page would load or link to (src, href, url(...) in styles)."""
    attrs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    return attrs + re.findall(r"url\(\s*['\"]?([^'\")]*)", page)


def _check_self_contained(page: str) -> None:
    for url in _sources(page):
        assert url.startswith(("data:", "#")), f"the report refers to an outside resource: {url}"
    assert "<script" not in page.lower()


def test_run_report(folders: dict[str, Path], capsys: Any) -> None:
    folder = folders["run"]
    assert main(["report", str(folder)]) == 0
    out = folder / "report.html"
    assert capsys.readouterr().out.strip() == f"Wrote {out}"
    page = out.read_text()
    _check_self_contained(page)
    assert page.startswith("<!DOCTYPE html>")
    assert "Scenario &#39;small&#39;" in page  # describe_scenario, escaped
    assert "Headline metrics" in page and "Earnings Gini" in page
    for profile in ("employee", "student", "always_on"):
        assert f">{profile}</td>" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4
    for figure in registry.RUN:  # platforms.png only in a market of several platforms
        shown = f"<strong>{figure.file}</strong>: {figure.caption}</figcaption>" in page
        assert shown == (figure.file != "platforms.png"), figure.file
    manifest = json.loads((folder / "manifest.json").read_text())
    assert f">{manifest['package_version']}</td>" in page
    assert "Scenario as run (YAML)" in page
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


def test_figures_are_drawn_when_the_folder_has_none(folders: dict[str, Path],
                                                    tmp_path: Path) -> None:
    out = tmp_path / "sub" / "bare.html"
    assert main(["report", str(folders["bare"]), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count('<img src="data:image/png;base64,') == 4
    assert "(drawn for this report)" in page
    assert not (folders["bare"] / "report.html").exists()


def test_comparison_report(folders: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "compare.html"
    assert main(["report", str(folders["comparison"]), "--out", str(out)]) == 0
    page = out.read_text()
    _check_self_contained(page)
    assert "Comparison of 2 variants of small" in page
    assert "Variants compared" in page and "(baseline)" in page
    assert "Difference to fcfs" in page and "95% interval of the difference" in page
    assert page.count('<img src="data:image/png;base64,') == 5  # the comparison's figures
    assert "The scenario in plain words" in page


def test_calibration_report(tmp_path: Path) -> None:
    table = pd.DataFrame([{"id": "x_share", "quantity": "a share", "role": "fitted",
                           "status": "confirmed", "published": 0.2, "unit": "share",
                           "tolerance": 0.05, "simulated": 0.21, "se": 0.01, "ci_low": 0.19,
                           "ci_high": 0.23, "within": True, "measure": "m", "source": "s"}])
    folder = tmp_path / "calib"
    folder.mkdir()
    table.to_csv(folder / "calibration.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({"ok": True}))
    CalibrationReport("market", table).plot().savefig(folder / "calibration.png")
    page = html_report.write_report(folder).read_text()
    assert "x_share" in page and "0.2 ± 0.05" in page and "[0.19, 0.23]" in page
    assert page.count('<img src="data:image/png;base64,') == 1
    assert "does not record the scenario" in page


def test_scenario_text_is_escaped_and_styles_are_inlined(tmp_path: Path) -> None:
    """Scenario text goes through the templates' autoescaping; the page's styles are the CSS
    file of the package, inlined; its generator tag is where check_report_target looks."""
    hostile = "<script>alert('x')</script> & <b>bold</b>"
    scenario = {**SMALL_SCENARIO, "horizon": "1d", "name": f"n{hostile}",
                "description": f"d{hostile}"}
    scenario["profiles"] = {**scenario["profiles"]}
    scenario["profiles"]["student"] = {**scenario["profiles"]["student"],
                                       "description": f"p{hostile}"}
    folder = sim.run(scenario).save(tmp_path / "run")
    page = html_report.write_report(folder).read_text()
    _check_self_contained(page)
    assert "<script" not in page and "<b>" not in page
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    for prefix in ("n", "d", "p"):
        assert prefix + escaped in page, prefix
    css = (resources.files("sim.presentation") / "templates" / "report.css").read_text()
    assert f"<style>\n{css}" in page
    assert folders_module.REPORT_GENERATOR in page[:4096]


def test_bad_folders_exit_2(tmp_path: Path, capsys: Any) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["report", str(tmp_path / "notes.txt")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("{}")
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run folder" in capsys.readouterr().err


def test_report_is_written_atomically(folders: dict[str, Path], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(folders["bare"]), "--out", str(out)]) == 0
    previous = out.read_text()

    class FullDisk:
        """The os module as sim.results.storage sees it, except that the final rename fails."""

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def replace(*args: Any) -> None:
            raise OSError("disk full")

    monkeypatch.setattr(folders_module, "os", FullDisk())
    assert main(["report", str(folders["run"]), "--out", str(out)]) == 1
    assert out.read_text() == previous
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


@pytest.mark.parametrize(("kind", "name", "damage"), [
    ("run", "summary.json", lambda b: b[:30]),
    ("run", "manifest.json", lambda b: b[: len(b) // 2]),
    ("run", "workers.parquet", lambda b: b[: len(b) // 2]),
    ("run", "tasks.parquet", lambda b: b"not parquet at all"),
    ("comparison", "runs.parquet", lambda b: b[:100]),
    ("comparison", "manifest.json", lambda b: b"\xff\xfe binary"),
    ("comparison", "earnings_replication0.parquet", lambda b: b""),
])
def test_damaged_files_are_errors_naming_them(folders: dict[str, Path], tmp_path: Path,
                                              capsys: Any, kind: str, name: str,
                                              damage: Any) -> None:
    folder = tmp_path / kind
    shutil.copytree(folders[kind], folder)
    (folder / "report.html").unlink(missing_ok=True)  # left by an earlier test
    path = folder / name
    path.write_bytes(damage(path.read_bytes()))
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read {path}") and "Traceback" not in err
    assert not (folder / "report.html").exists()
    if kind == "run":
        with pytest.raises(StoreError, match=f"cannot read {re.escape(str(path))}"):
            sim.load_result(folder)


def test_load_result_of_a_folder_that_is_not_a_run(folders: dict[str, Path]) -> None:
    with pytest.raises(StoreError, match=r"summary\.json: it is missing"):
        sim.load_result(folders["comparison"])


def test_sweep_and_sensitivity_reports(tmp_path: Path, capsys: Any) -> None:
    """A sweep or sensitivity folder is reported as such (it was taken for a comparison):
    the scenario, its table, its plots and the manifest."""
    (tmp_path / "small.yaml").write_text(yaml.safe_dump({**SMALL_SCENARIO, "horizon": "1d"}))
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(
        {"scenario": "small.yaml", "grid": {"platform.daily_cap": [3, None]},
         "replications": 2, "metrics": ["earnings_gini"]}))
    (tmp_path / "screen.yaml").write_text(yaml.safe_dump(
        {"scenario": "small.yaml", "method": "morris", "n": 2, "outputs": ["earnings_gini"],
         "problem": {"batches": {"scale": "requesters.batches_per_day", "bounds": [0.5, 2]}}}))
    sweep, screen = tmp_path / "sweep-out", tmp_path / "screen-out"
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--executor", "inprocess", "--quiet",
                 "--out", str(sweep)]) == 0
    assert main(["sensitivity", str(tmp_path / "screen.yaml"), "--executor", "inprocess",
                 "--quiet", "--out", str(screen)]) == 0
    capsys.readouterr()
    assert main(["report", str(sweep)]) == 0
    page = (sweep / "report.html").read_text()
    _check_self_contained(page)
    assert "Sweep of small over platform.daily_cap" in page and "The sweep" in page
    assert ">none</td>" in page and ">Earnings Gini</th>" in page
    assert "<strong>lines_earnings_gini.png</strong>" in page
    assert "The scenario in plain words" in page and "Grid (YAML)" in page
    assert main(["report", str(screen)]) == 0
    page = (screen / "report.html").read_text()
    _check_self_contained(page)
    assert "Morris screening of small" in page and ">mu_star</th>" in page
    assert "<strong>morris.png</strong>" in page and "Problem (YAML)" in page


def test_report_never_overwrites_another_file(folders: dict[str, Path], tmp_path: Path,
                                              capsys: Any) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my notes</html>")
    assert main(["report", str(folders["run"]), "--out", str(notes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "notes.html" in err and "not a report" in err
    assert notes.read_text() == "<html>my notes</html>"
    with pytest.raises(StoreError, match="not a report"):
        html_report.write_report(folders["run"], notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.html"]


def test_notebook_displays() -> None:
    """Runs, comparisons and calibration reports display as HTML tables in notebooks."""
    res = sim.run(SMALL_SCENARIO, seed=1)
    page = res._repr_html_()
    assert "<table" in page and "Earnings Gini" in page and "always_on" in page
    assert repr(res).startswith("<RunResult 'small' seed=1")
    cmp = sim.compare(SMALL_SCENARIO, {"fcfs": {}, "capped": {"platform.daily_cap": 5}},
                      replications=2, processes=1, progress=False)
    page = cmp._repr_html_()
    assert "Difference to fcfs" in page and 'class="group"' in page
    assert repr(cmp) == "<Comparison of 2 variants x 2 replications, baseline 'fcfs': fcfs, capped>"


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Debian's chromedriver; fails (does not skip) when missing."""
    if SKIP_BROWSER:
        pytest.skip("MICROWORK_SKIP_BROWSER=1: no browser test on this machine")
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: install Debian's chromium and "
                    "chromium-driver (python3 dev.py test does), or set "
                    "MICROWORK_SKIP_BROWSER=1 to skip")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium look for a driver online
    profile = Path(tempfile.mkdtemp(prefix="microwork-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _requested_urls(driver: Any, document: str) -> list[str]:
    """URLs of the requests made by the page at ``document`` (the browser's own internal pages
    make requests too, which are not the report's)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if (message.get("method") == "Network.requestWillBeSent"
                and params.get("documentURL") == document):
            urls.append(params["request"]["url"])
    return urls


@pytest.mark.parametrize("kind", ["run", "comparison"])
def test_report_in_a_browser(kind: str, folders: dict[str, Path], browser: Any,
                             tmp_path: Path) -> None:
    page = tmp_path / f"{kind}.html"
    html_report.write_report(folders[kind], page)
    browser.get_log("browser")  # drop messages of earlier pages
    browser.get_log("performance")
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title.startswith("microwork: ")

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"console errors: {errors}"
    requested = _requested_urls(browser, page.as_uri())
    assert page.as_uri() in requested
    outside = [u for u in requested if not u.startswith(("file:", "data:"))]
    assert not outside, f"the page fetched {outside}"

    images = browser.execute_script(
        "return Array.from(document.images).map(i => "
        "({alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,"
        "  shown: i.getBoundingClientRect().width}))")
    assert len(images) == (4 if kind == "run" else 5)  # a comparison adds winners_losers.png
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
        assert image["shown"] > 100, image  # laid out at a readable size, not collapsed
    tables = browser.execute_script("return document.querySelectorAll('table').length")
    assert tables >= 3

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": 1280, "height": min(height, 16000), "scale": 1}})
    target = ARTEFACTS / f"report-{kind}.png"
    target.write_bytes(base64.b64decode(shot["data"]))
    assert target.stat().st_size > 10_000
