#!/usr/bin/env python3
"""Bootstrap and task runner needing only Python 3.11: ``python3 dev.py run|test|lint|bench``.

It creates ``.venv`` on first use, installs the project with its development extras (again
whenever pyproject.toml changes), then runs the task inside that environment.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"

TASKS = {
    "run": [str(BIN / "microwork"), "run", "scenarios/baseline.yaml"],
    "test": [str(BIN / "python"), "-m", "pytest"],
    "lint": [str(BIN / "ruff"), "check", "sim", "tests", "benchmarks", "dev.py"],
    "bench": [str(BIN / "python"), "benchmarks/bench_engine.py"],
}


def ensure_environment() -> None:
    """Create the virtual environment and install the project if needed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not BIN.exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing microwork and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(digest)


def main(argv: list[str]) -> int:
    """Run the task named in ``argv[0]`` with the remaining arguments appended."""
    if not argv or argv[0] not in TASKS:
        print(f"usage: python3 dev.py {{{'|'.join(TASKS)}}} [extra arguments]", file=sys.stderr)
        return 2
    ensure_environment()
    return subprocess.run([*TASKS[argv[0]], *argv[1:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
