#!/usr/bin/env python3
"""Bootstrap and task runner needing only Python 3.11: ``python3 dev.py run|test|lint|bench``.

It creates ``.venv`` on first use, installs the project with its development extras at the
versions pinned in constraints.txt (again whenever either file changes), then runs the task
inside that environment. ``test`` first
makes sure Debian's ``chromium`` and ``chromium-driver`` are installed (the HTML report is
tested in a real headless browser), installing them with apt when missing, so that the README's
test command works on a fresh machine. ``test --fast`` runs the fast tier only: the tests not
marked ``slow`` (tests/conftest.py), which need no browser.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"

TASKS: dict[str, list[list[str]]] = {
    "run": [[str(BIN / "microwork"), "run", "scenarios/baseline.yaml"]],
    # one pytest worker per core (pytest-xdist): 1.4x faster on 2 cores; `-n 0` for one process
    "test": [[str(BIN / "python"), "-m", "pytest", "-n", "auto"]],
    "lint": [
        [str(BIN / "ruff"), "check", "sim", "tests", "benchmarks", "dev.py"],
        [str(BIN / "lint-imports")],
    ],
    "bench": [[str(BIN / "python"), "benchmarks/bench_engine.py"]],
}
"""Each task's commands, run in order; extra arguments go to the first one (``lint --fix``
is ruff's)."""

FAST = "--fast"
"""``dev.py test --fast``: the fast tier, every test not marked ``slow`` (tests/conftest.py)."""

CONSTRAINTS = "constraints.txt"
"""The exact versions of every dependency the environment gets (the digests hold for them)."""

BROWSER_PACKAGES = ("chromium", "chromium-driver")
"""Debian packages providing the browser of tests/test_html_report.py and its driver."""


def ensure_environment() -> None:
    """Create the virtual environment and install the project if needed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()
                            + (ROOT / CONSTRAINTS).read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not BIN.exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing microwork and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--constraint", str(ROOT / CONSTRAINTS), "-e", f"{ROOT}[dev]"],
                   check=True)
    STAMP.write_text(digest)


def browser_missing() -> list[str]:
    """The browser files tests/test_html_report.py needs and does not find (same variables)."""
    if os.environ.get("MICROWORK_SKIP_BROWSER") == "1":
        return []
    paths = (os.environ.get("MICROWORK_CHROMIUM", "/usr/bin/chromium"),
             os.environ.get("MICROWORK_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return [p for p in paths if not Path(p).exists()]


def ensure_browser() -> str | None:
    """Install Debian's chromium and chromium-driver with apt if missing (as root, or through
    sudo); return a one-line instruction when that is impossible or fails, None when done."""
    missing = browser_missing()
    if not missing:
        return None
    packages = " ".join(BROWSER_PACKAGES)
    how = (f"install Debian's {packages} (apt-get install {packages}, as root) or set "
           "MICROWORK_SKIP_BROWSER=1 to skip the browser test")
    if shutil.which("apt-get") is None:
        return f"{', '.join(missing)} not found and no apt-get on this machine: {how}"
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo") is not None:
        prefix = ["sudo"]
    else:
        return f"{', '.join(missing)} not found, not root and no sudo: {how}"
    print(f"{', '.join(missing)} not found: installing {packages} for the HTML report test",
          flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([*prefix, "apt-get", "update"],
                    [*prefix, "apt-get", "install", "-y", *BROWSER_PACKAGES]):
        print(f"+ {' '.join(command)}", flush=True)
        if subprocess.run(command, env=env).returncode != 0:
            return f"`{' '.join(command)}` failed: {how}"
    still = browser_missing()
    return f"{', '.join(still)} still missing after apt-get install: {how}" if still else None


def main(argv: list[str]) -> int:
    """Run the task named in ``argv[0]`` with the remaining arguments appended."""
    if not argv or argv[0] not in TASKS:
        print(f"usage: python3 dev.py {{{'|'.join(TASKS)}}} [extra arguments]"
              f"  (test {FAST}: skip the slow tests)", file=sys.stderr)
        return 2
    task, extra = argv[0], argv[1:]
    if task == "test" and FAST in extra:  # the fast tier needs no browser
        extra = [a for a in extra if a != FAST] + ["-m", "not slow"]
    elif task == "test" and (problem := ensure_browser()) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    ensure_environment()
    first, *rest = TASKS[task]
    status = 0
    for command in [[*first, *extra], *rest]:
        status = subprocess.run(command, cwd=ROOT).returncode or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
