"""Policy explorer benchmark: time to the first page load after the server is up, and time
from pressing Run to the result with the default settings (baseline scenario, 7 days, 4
paired replications, lottery against fcfs, 2 processes), in headless Chromium.

Run: ``.venv/bin/python benchmarks/bench_explore.py`` (needs /usr/bin/chromium and
/usr/bin/chromedriver). Figures in BENCHMARKS.md, "Policy explorer".
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_explorer import _click, _find, _free_port, _select, _text, _wait  # noqa: E402


def main() -> None:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "sim.cli", "explore", "--port", str(port),
                                "--processes", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    started = time.perf_counter()
    print(process.stdout.readline().strip())
    up = time.perf_counter() - started
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--window-size=1300,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        t0 = time.perf_counter()
        driver.get(f"http://127.0.0.1:{port}/")
        _wait(driver, lambda: _find(driver, ".mw-run") is not None, 60)
        load = time.perf_counter() - t0
        _select(driver, ".mw-alternative-rule", "lottery")
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            _click(driver, ".mw-run")
            _wait(driver, lambda: _text(driver, ".mw-status").startswith("Running"), 10)
            _wait(driver, lambda: _text(driver, ".mw-status").startswith("Done"), 120)
            times.append(time.perf_counter() - t0)
        print(f"server up (command start to address printed): {up:.1f} s")
        print(f"first page load (get to controls shown): {load:.2f} s")
        print(f"default comparison (Run to result shown): "
              f"{', '.join(f'{t:.1f} s' for t in times)}")
    finally:
        driver.quit()
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
