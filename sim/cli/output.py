"""Where the commands write: result folders written atomically, and the ``<out>.partial``
state folder of an experiment that resumes after an interruption.

:class:`Output` is the one way a command writes its result folder. It checks the folder before
anything is computed (an existing folder is replaced only if it is empty or a result of the
same kind microwork wrote), writes it through a staging folder renamed into place, and turns a
write error into ``error: cannot write results to ...`` and exit status 1. For comparisons,
sweeps and sensitivity analyses, :meth:`Output.resumable` runs the experiment with its
finished runs streamed to the run dataset ``<out>.partial/``: it says how many runs it resumes,
keeps them after Ctrl-C (exit status 130) and removes the folder once the results are written.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK
from sim.foundation.errors import StoreError
from sim.results.dataset import STATE, check_state
from sim.results.storage import check_replaceable, safe_name, staged_folder

PARTIAL_SUFFIX = ".partial"
"""``<out>.partial`` holds the finished runs of a comparison, sweep or sensitivity analysis
until its result folder is written."""


def default_out(scenario_name: str, seed: int) -> Path:
    """``results/<scenario name>-seed<N>``, the name made safe for a path (and not too long)."""
    return Path("results") / f"{safe_name(scenario_name)}-seed{seed}"


def default_experiment_out(name: str, suffix: str) -> Path:
    """``results/<spec or scenario name>-<suffix>`` (``compare``, ``sweep``, ...), the name
    made safe for a path (and not too long)."""
    return Path("results") / f"{safe_name(name)}-{suffix}"


@dataclass
class Output:
    """The result folder of a command: ``shown`` as the user gave it (or the default),
    ``target`` resolved, of the ``kind`` microwork writes there."""

    shown: Path
    target: Path
    kind: str
    resumed: bool = False
    """Whether an experiment ran in :attr:`state` (then removed once the results are written)."""

    @classmethod
    def choose(cls, out: Path | None, default: Path, kind: str) -> Output:
        """The folder ``--out`` names (else ``default``), checked before anything is computed:
        StoreError unless it may be replaced by a ``kind`` result."""
        shown = out if out is not None else default
        target = shown.expanduser().resolve()  # "--out ." names the current folder, not ""
        check_replaceable(target, kind)
        return cls(shown, target, kind)

    @property
    def state(self) -> Path:
        """``<out>.partial``: the run dataset of an experiment until its results are written."""
        return self.target.with_name(self.target.name + PARTIAL_SUFFIX)

    @property
    def shown_state(self) -> Path:
        """:attr:`state` as the user would write it."""
        return Path(f"{self.shown}{PARTIAL_SUFFIX}") if self.shown.name else self.state

    def resumable(self, launch: Callable[[Path], Any], quiet: bool
                  ) -> tuple[Any, float] | int:
        """Run ``launch(state folder)`` (an experiment streaming its runs to
        :attr:`state`, whose store checks it) and return its result and wall time, or the exit
        status after an interruption (runs kept, 130) or an error writing the state (1)."""
        self.resumed = True
        existed = self.state.exists()
        before = STATE.count(self.state) if check_state(self.state) is not None else 0
        if before and not quiet:
            print(f"resuming from {self.shown_state}: {before} finished runs found",
                  file=sys.stderr)
        start = time.perf_counter()
        try:
            result = launch(self.state)
        except BaseException as exc:
            done = STATE.count(self.state)
            if not existed and not done:  # nothing worth keeping: leave no trace
                shutil.rmtree(self.state, ignore_errors=True)
            if isinstance(exc, KeyboardInterrupt):
                kept = f"{done} finished runs are kept in {self.shown_state}; " if done else ""
                print(f"interrupted: {kept}run the same command again to resume",
                      file=sys.stderr)
                return EXIT_INTERRUPTED
            if isinstance(exc, OSError):
                print(f"error: cannot write the {self.kind} state to "
                      f"{str(self.shown_state)!r}: {exc}", file=sys.stderr)
                return EXIT_FAILURE
            raise
        return result, time.perf_counter() - start

    def write(self, write: Callable[[Path], None]) -> int:
        """Write the result folder atomically with ``write(folder)`` and remove an
        experiment's ``.partial`` state folder (kept, with a note, if it now holds something
        else); a write error prints ``error:`` and gives exit status 1."""
        try:
            with staged_folder(self.target, self.kind) as staging:
                write(staging)
        except OSError as exc:
            print(f"error: cannot write results to {str(self.shown)!r}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        if not self.resumed:
            return EXIT_OK
        try:
            STATE.remove(self.state)
        except (StoreError, OSError) as exc:
            print(f"note: the state folder was kept: {exc}", file=sys.stderr)
        return EXIT_OK

    def experiment(self, launch: Callable[[Path], Any], write: Callable[[Any, Path, float], None],
                   text: Callable[[Any], str], quiet: bool) -> int:
        """The life of an experiment command: run ``launch(state folder)`` resumably (see
        :meth:`resumable`), write the result folder with ``write(result, folder, wall time)``,
        then print ``text(result)`` and how the runs were obtained (only the folder with
        ``quiet``); return the exit status."""
        outcome = self.resumable(launch, quiet)
        if isinstance(outcome, int):
            return outcome
        result, wall = outcome
        status = self.write(lambda folder: write(result, folder, wall))
        if status != EXIT_OK:
            return status
        return self.done(quiet, lambda: f"{text(result)}\n{self.finished(result.stats, wall)}")

    def done(self, quiet: bool, text: Callable[[], str]) -> int:
        """Print what the command has to say (``text()``), or with ``quiet`` only the result
        folder; exit status 0."""
        print(self.shown if quiet else text())
        return EXIT_OK

    def wrote(self) -> str:
        """``Wrote <out>/ (files)``: the last line a command prints."""
        files = sorted(p.name for p in self.target.iterdir())
        slash = "" if str(self.shown).endswith("/") else "/"
        return f"Wrote {self.shown}{slash} ({', '.join(files)})"

    def finished(self, stats: dict[str, Any], wall: float) -> str:
        """How an experiment's runs were obtained, and what was written."""
        resumed = stats.get("runs_resumed", 0)
        return (f"\n{stats.get('runs_computed', 0)} runs computed in {wall:.1f} s on "
                f"{stats.get('executor', '?')}" + (f", {resumed} resumed" if resumed else "")
                + f".\n{self.wrote()}")
