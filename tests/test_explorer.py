"""The policy explorer (``microwork explore``, ``sim.explore``): its logic without a browser
(the variants built from the controls, errors mapped to fields, the side-by-side table, the
sentences, the exports), then the page itself in headless Chromium, served by the command in a
subprocess: a comparison equal to ``sim.compare``'s, an invalid field, a cancelled run.

The browser tests need ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` like
tests/test_html_report.py (``MICROWORK_SKIP_BROWSER=1`` skips them); screenshots go to
``results/test-artefacts/``.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.presentation.explorer import model
from tests.conftest import SMALL_SCENARIO

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "results" / "test-artefacts"
CHROMIUM = Path(os.environ.get("MICROWORK_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("MICROWORK_CHROMEDRIVER", "/usr/bin/chromedriver"))
SKIP_BROWSER = os.environ.get("MICROWORK_SKIP_BROWSER") == "1"
LOTTERY = {"platform.allocation": {"rule": "lottery", "window": "5min"}}


# --------------------------------------------------------------------------- the logic


@pytest.fixture(scope="module")
def small() -> sim.Scenario:
    return sim.load_scenario(SMALL_SCENARIO)


@pytest.fixture(scope="module")
def small_cmp(small: sim.Scenario) -> sim.experiments.compare.Comparison:
    request = model.Request(small, horizon="", replications=3, processes=1,
                            sides={"alternative": {"rule": "lottery", "window": "5min"}})
    return model.run(request)


def test_controls_become_the_variants(small: sim.Scenario) -> None:
    assert model.side_overrides(small, {}) == {}
    assert model.side_overrides(small, model.side_defaults(small)) == {}
    changed = model.side_overrides(small, {"rule": "least_earned", "window": "5min",
                                           "period": "week", "daily_cap": "20",
                                           "monthly_cap": " 100.5 ", "expiry": "1d",
                                           "commission": "0.1"})
    assert changed == {"platform.allocation": {"rule": "least_earned", "window": "5min",
                                               "period": "week"},
                       "platform.daily_cap": 20, "platform.monthly_cap": 100.5,
                       "platform.commission": 0.1,
                       **{f"task_types.{t}.expiry": "1d" for t in small.task_types}}
    sim.override(small, changed)  # valid
    # the window is left out for a rule without one; an emptied cap means none
    capped = sim.override(small, {"platform.daily_cap": 5})
    assert model.side_overrides(capped, {"rule": "fcfs", "window": "9min", "daily_cap": ""}) == {
        "platform.daily_cap": None}


def test_errors_go_next_to_their_field(small: sim.Scenario) -> None:
    request = model.Request(small, sides={"alternative": {"daily_cap": "-5", "expiry": "-1",
                                                          "commission": "abc"}})
    _, _, errors = model.check(request)
    assert set(errors) == {"alternative.daily_cap", "alternative.expiry",
                           "alternative.commission"}
    assert errors["alternative.daily_cap"].startswith("platform.daily_cap: ")
    assert "(got -5)" in errors["alternative.daily_cap"]
    request = model.Request(small, horizon="2d", sides={
        "baseline": {"rule": "lottery", "window": "3d"}, "alternative": {"window": "x"}})
    _, _, errors = model.check(request)
    assert "longer than the horizon" in errors["baseline.window"]
    assert set(errors) == {"baseline.window"}  # the alternative's fcfs has no window
    _, _, errors = model.check(model.Request(small, horizon="-1d", workers="0"))
    assert set(errors) == {"horizon", "workers"}
    with pytest.raises(sim.ScenarioError, match="horizon"):
        model.run(model.Request(small, horizon="-1d"))


def test_a_market_of_platforms_has_a_target_and_a_multi_homing_switch() -> None:
    """A side's levers go to one platform or to every platform; multi-homing can be switched
    off (every worker on one platform); errors in a platform's levers reach their field."""
    market = model.load("platforms_market")
    assert model.targets_of(market) == [model.EVERY, "main", "second", "third"]
    assert model.targets_of(model.load("baseline")) == [model.EVERY]
    assert model.switches_of(market) == ["adaptive", "multihoming"]
    lottery = {"rule": "lottery", "window": "5min"}
    one = model.side_overrides(market, {"target": "main", **lottery, "daily_cap": "9"})
    assert one == {"platforms.main.platform.allocation": lottery,
                   "platforms.main.platform.daily_cap": 9}
    every = model.side_overrides(market, {**lottery})
    assert set(every) == {f"platforms.{p}.platform.allocation" for p in market.platforms}
    changed = sim.override(market, one).market()
    assert [m.platform.allocation.rule for m in changed] == ["lottery", "fcfs", "fcfs"]
    # the defaults of a side are those of its platform
    assert model.side_defaults(sim.override(market, one), "main")["daily_cap"] == "9"
    assert model.side_defaults(sim.override(market, one), "second")["daily_cap"] == ""
    single = model.side_overrides(market, {"multihoming": False})
    assert single == {f"profiles.{p}.platforms.count": 1 for p in market.profiles}
    assert model.switches_of(sim.override(market, single)) == ["adaptive"]
    _, _, errors = model.check(model.Request(market, sides={
        "alternative": {"target": "third", "daily_cap": "-5"}}))
    assert set(errors) == {"alternative.daily_cap"}
    assert errors["alternative.daily_cap"].startswith("platforms.third.platform.daily_cap: ")


def test_switches_and_estimate(small: sim.Scenario) -> None:
    baseline = model.load("baseline")
    assert model.switches_of(small) == [] and model.switches_of(baseline) == ["adaptive"]
    assert model.side_overrides(baseline, {"adaptive": True}) == {"supply.adaptive": True}
    assert set(model.shipped_scenarios()) >= {"baseline", "france_2019", "mturk_2018",
                                              "platforms_market"}
    week = sim.override(baseline, {"horizon": "7d"})
    assert 3 < model.estimate_seconds(week, 4, 2) < 30
    assert model.seconds_text(12.4) == "about 12s"


def test_table_equals_sim_compare(small: sim.Scenario, small_cmp: Any) -> None:
    direct = sim.compare(small, {"baseline": {}, "alternative": LOTTERY}, 3, 1, 1,
                         progress=False)
    assert direct.runs.equals(small_cmp.runs)
    table = model.side_by_side(small_cmp, "EUR", list(small.profiles))
    assert list(table.columns) == ["Metric", "Baseline", "Alternative", "Difference", "p",
                                   "Significant"]
    gini = table.set_index("Metric").loc["Earnings Gini"]
    means = direct.table(["earnings_gini"]).set_index("variant")["mean"]
    assert gini["Baseline"].startswith(f"{means['baseline']:.3g} [")
    assert gini["Alternative"].startswith(f"{means['alternative']:.3g} [")


def test_sentences_name_the_largest_significant_changes(small_cmp: Any) -> None:
    sentences = model.largest_changes(small_cmp, "EUR", n=3)
    paired = small_cmp.paired().set_index("metric")
    assert sentences and len(sentences) <= 3
    for sentence in sentences:
        assert re.fullmatch(r"[A-Z].* (rises|falls) from .+ to .+ \[.+, .+\]\.", sentence)
    latency = paired.loc["claim_latency_mean"]
    assert latency["p_value"] < 0.05  # a 5-minute window makes tasks wait longer
    assert any(s.startswith("Claim latency, mean rises from") for s in sentences)
    shares = [s for s in sentences if "profile's share of earnings" in s]
    assert all(s.startswith("The ") for s in shares)


def test_exports(small_cmp: Any, tmp_path: Path) -> None:
    data = model.result_zip(small_cmp, "cmp", extra={"written_from": "test"})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = {Path(n).name for n in archive.namelist()}
        archive.extractall(tmp_path)
    assert {"runs.parquet", "table.csv", "paired.csv", "manifest.json",
            "earnings_replication0.parquet", "winners_losers.png",
            "latency_overlay.png"} <= names
    back = sim.experiments.compare.Comparison  # the folder reads back as a comparison
    from sim.presentation.folders import load_comparison  # noqa: PLC0415 - test helper

    loaded = load_comparison(tmp_path / "cmp")
    assert isinstance(loaded, back) and loaded.runs.equals(small_cmp.runs)
    page = model.report_html(small_cmp)
    assert page.startswith("<!DOCTYPE html>") and "winners_losers.png" in page


def test_explore_in_a_notebook(small: sim.Scenario) -> None:
    import panel as pn  # noqa: PLC0415 - the explorer's framework

    page = sim.explore(small, processes=1)
    assert isinstance(page, pn.viewable.Viewable)
    assert "mw-page" in page.css_classes


# --------------------------------------------------------------------------- the browser

DEEP = """
window.mwDeep = function (selector, root) {
  root = root || document;
  const found = root.querySelector(selector);
  if (found) return found;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { const f = window.mwDeep(selector, el.shadowRoot); if (f) return f; }
  }
  return null;
};
window.mwText = function (selector) {
  const host = window.mwDeep(selector);
  if (!host) return null;
  const root = host.shadowRoot || host;
  return Array.from(root.children).filter(e => !['STYLE', 'LINK'].includes(e.tagName))
    .map(e => e.innerText).join(' ').trim();
};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``microwork explore`` in a subprocess on a free local port; yields the page's URL."""
    if SKIP_BROWSER:
        pytest.skip("MICROWORK_SKIP_BROWSER=1: no browser test on this machine")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "sim.cli", "explore", "--port",
                                str(port), "--processes", "2"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    url = f"http://127.0.0.1:{port}/"
    assert line.startswith(f"microwork policy explorer: {url}"), line
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    """Headless Chromium (one per module and pytest worker)."""
    from selenium import webdriver  # noqa: PLC0415 - only the browser tests need it
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            pytest.fail(f"{path} not found: install Debian's chromium and chromium-driver "
                        "(or set MICROWORK_SKIP_BROWSER=1)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-extensions",
                 "--window-size=1300,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: Any, server: str) -> Any:
    """The explorer freshly loaded (a new session of the app), so that each browser test
    starts from the shipped defaults whatever ran before it, on whichever pytest worker."""
    started = time.perf_counter()
    browser.get(server)
    _wait(browser, lambda: _find(browser, ".mw-run") is not None, 30)
    browser.load_seconds = time.perf_counter() - started
    return browser


def _wait(driver: Any, ready: Any, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(0.2)
    driver.save_screenshot(str(ARTEFACTS / "explorer-timeout.png"))
    raise AssertionError("timed out waiting for the page")


def _find(driver: Any, selector: str) -> Any:
    driver.execute_script(DEEP)
    return driver.execute_script("return window.mwDeep(arguments[0])", selector)


def _inner(driver: Any, selector: str, inner: str) -> Any:
    """The element ``inner`` inside the widget of class ``selector``."""
    host = _find(driver, selector)
    return driver.execute_script("return arguments[0].shadowRoot.querySelector(arguments[1])",
                                 host, inner)


def _text(driver: Any, selector: str) -> str:
    driver.execute_script(DEEP)
    return driver.execute_script("return window.mwText(arguments[0])", selector) or ""


def _type(driver: Any, selector: str, value: str) -> None:
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    field = _inner(driver, selector, "input")
    field.click()
    field.send_keys(Keys.END, *[Keys.BACKSPACE] * len(field.get_attribute("value") or ""))
    for key in value:  # one key at a time, as a person types
        _inner(driver, selector, "input").send_keys(key)
    _inner(driver, selector, "input").send_keys(Keys.ENTER)


def _select(driver: Any, selector: str, text: str) -> None:
    from selenium.webdriver.support.ui import Select  # noqa: PLC0415

    Select(_inner(driver, selector, "select")).select_by_visible_text(text)


def _click(driver: Any, selector: str) -> None:
    """Press a button once it is enabled (the page re-renders while busy: wait, do not race)."""
    _wait(driver, lambda: _inner(driver, selector, "button").get_attribute("disabled") is None,
          20)
    button = _inner(driver, selector, "button")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()


def _disabled(driver: Any, selector: str) -> bool:
    return _inner(driver, selector, "button").get_attribute("disabled") is not None


def _table(driver: Any) -> list[list[str]]:
    host = _find(driver, ".mw-table")
    return driver.execute_script(
        "const t = arguments[0].shadowRoot.querySelector('table');"
        "return t ? Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.innerText)) : []",
        host)


def test_comparison_in_the_browser(page: Any) -> None:
    assert page.load_seconds < 15  # the benchmark measures it: under 3 s (BENCHMARKS.md)
    assert "simulates 2,000 workers" in _text(page, ".mw-description")
    _select(page, ".mw-alternative-rule", "lottery")
    _wait(page, lambda: "seconds" in _text(page, ".mw-note") or "s per" in
          _text(page, ".mw-note"), 10)
    _click(page, ".mw-run")
    _wait(page, lambda: _text(page, ".mw-status").startswith("Done"), 90)
    _wait(page, lambda: len(_table(page)) > 1, 30)  # the table follows the status
    rows = _table(page)
    assert rows[0][:3] == ["Metric", "Baseline", "Alternative"]
    scn = sim.override(model.load("baseline"), {"horizon": "7d"})
    direct = sim.compare(scn, {"baseline": {}, "alternative": {
        "platform.allocation": {"rule": "lottery", "window": "1min"}}}, 4, 1, 2,
        progress=False)
    expected = model.side_by_side(direct, scn.currency, list(scn.profiles))
    assert rows[1:] == expected.astype(str).to_numpy().tolist()
    assert "rises from" in _text(page, ".mw-sentences") or "falls from" in _text(
        page, ".mw-sentences")
    for name in ("profile_earnings", "lorenz", "latency", "winners"):
        size = page.execute_script(
            "const i = arguments[0].shadowRoot.querySelector('img');"
            "return i ? [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width] "
            ": null", _find(page, f".mw-fig-{name}"))
        assert size is not None and min(size) > 0, (name, size)
    assert _inner(page, ".mw-download-zip", "button") is not None
    page.set_window_size(1300, 3400)
    page.save_screenshot(str(ARTEFACTS / "explorer-result.png"))
    page.set_window_size(1300, 1000)


def test_invalid_value_shows_the_error_next_to_the_field(page: Any) -> None:
    _type(page, ".mw-alternative-daily_cap", "-5")
    _wait(page, lambda: "greater than or equal to 1" in _text(
        page, ".mw-error-alternative-daily_cap"), 10)
    _wait(page, lambda: _disabled(page, ".mw-run"), 10)
    page.save_screenshot(str(ARTEFACTS / "explorer-error.png"))
    _type(page, ".mw-alternative-daily_cap", "")
    _wait(page, lambda: _text(page, ".mw-error-alternative-daily_cap") == "", 10)
    _wait(page, lambda: not _disabled(page, ".mw-run"), 10)


def test_cancel_recovers(page: Any) -> None:
    _type(page, ".mw-horizon", "1d")  # a quick first result, which must stay
    _type(page, ".mw-replications", "2")
    _wait(page, lambda: "over 1 days, 2 paired" in _text(page, ".mw-note"), 20)
    _click(page, ".mw-run")
    _wait(page, lambda: _text(page, ".mw-status").startswith("Done"), 90)
    _wait(page, lambda: len(_table(page)) > 1, 30)  # the table follows the status
    before = _table(page)
    assert len(before) > 1
    _type(page, ".mw-horizon", "7d")
    _type(page, ".mw-replications", "20")
    _click(page, ".mw-run")
    _wait(page, lambda: _text(page, ".mw-status").startswith("Running"), 10)
    _click(page, ".mw-cancel")
    _wait(page, lambda: _text(page, ".mw-status").startswith("Cancelled"), 60)
    assert "last result is still shown" in _text(page, ".mw-status")
    assert _table(page) == before  # the last result stays
    _wait(page, lambda: not _disabled(page, ".mw-run"), 10)
    page.save_screenshot(str(ARTEFACTS / "explorer-cancelled.png"))


def test_one_platform_of_a_market_changes_its_rule_in_the_browser(page: Any) -> None:
    """A market of three platforms: the alternative's rule applies to the main platform only;
    the multi-homing switch is shown; the comparison runs (one day, two replications) and the
    table equals sim.compare's."""
    _select(page, ".mw-scenario", "platforms_market")
    _wait(page, lambda: "3 platforms" in _text(page, ".mw-description"), 20)
    assert _find(page, ".mw-alternative-multihoming") is not None
    _select(page, ".mw-alternative-target", "main")
    _select(page, ".mw-alternative-rule", "lottery")
    _type(page, ".mw-horizon", "1d")
    _type(page, ".mw-replications", "2")
    # the server has every setting once its time note says so (messages arrive in order)
    _wait(page, lambda: "over 1 days, 2 paired" in _text(page, ".mw-note"), 20)
    _click(page, ".mw-run")
    _wait(page, lambda: _text(page, ".mw-status").startswith("Done"), 120)
    _wait(page, lambda: len(_table(page)) > 1, 30)  # the table follows the status
    scn = sim.override(model.load("platforms_market"), {"horizon": "1d"})
    direct = sim.compare(scn, {"baseline": {}, "alternative": {
        "platforms.main.platform.allocation": {"rule": "lottery", "window": "1min"}}},
        2, 1, 2, progress=False)
    expected = model.side_by_side(direct, scn.currency, list(scn.profiles))
    assert _table(page)[1:] == expected.astype(str).to_numpy().tolist()
    page.set_window_size(1300, 3400)
    page.save_screenshot(str(ARTEFACTS / "explorer-platforms.png"))
    page.set_window_size(1300, 1000)
