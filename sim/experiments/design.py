"""The one run machinery of every experiment: scenario points x replications with paired seeds,
run on an executor, streamed to a resumable run dataset.

A :class:`Design` is what an experiment runs: point ``i``'s scenario (a comparison's variant, a
sweep's grid point, a sensitivity analysis' sample point, the one scenario of a calibration),
the parameter values that name the points, and the seed. Replication ``r`` of every point runs
with :func:`replication_seed` ``(seed, r)``: the same workers and task arrivals wherever the
scenario allows it (common random numbers), so differences between points are paired.

:class:`DesignRun` opens a design: it checks every point's scenario and size (before any run),
opens the experiment's :class:`~sim.results.dataset.RunDataset` (a state folder that resumes an
interrupted experiment, or a temporary one) and an executor (see
:mod:`sim.experiments.executors`), and runs the missing runs of the replications asked for with
a progress bar, each written to the dataset as it finishes. :func:`run_design` does it once.

Two hooks serve interactive front ends (the policy explorer): ``progress`` may be a callable,
called with (runs done, runs asked for) after every run instead of drawing a bar, and
``cancel``, a callable returning True once the caller wants the experiment stopped, is asked
after every run: the runs not yet started are dropped and :class:`~sim.foundation.errors.
Cancelled` is raised (the runs in flight finish first; nothing is written but the store).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.executors import open_executor, progress_bar
from sim.foundation.checks import MAX_SEED, whole_number
from sim.foundation.errors import Cancelled, ScenarioError, SpecError
from sim.results.dataset import RunDataset, points_frame, with_parameters
from sim.results.run import run
from sim.scenario import size
from sim.scenario.loading import in_context
from sim.scenario.schema import Scenario


def replication_seed(seed: int, replication: int) -> int:
    """Seed of replication ``replication``: the same for every point, distinct across r."""
    ss = np.random.SeedSequence(seed, spawn_key=(replication,))
    return int(ss.generate_state(1, np.uint32)[0])


def whole(value: Any, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """An experiment's whole-number argument (replications, seed, processes, ...): a wrong
    type raises TypeError, a value out of range SpecError, both naming the argument."""
    try:
        return whole_number(value, name, minimum, maximum)
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def check_seed(seed: Any) -> int:
    """An experiment's seed: a whole number from 0 to :data:`~sim.foundation.checks.MAX_SEED`."""
    return whole(seed, "seed", 0, MAX_SEED)


def default_workers() -> int:
    """Default size of a local pool or local Dask cluster: the number of cores."""
    return os.cpu_count() or 1


# --------------------------------------------------------------------------- the task


def run_point(scn: Scenario, point: int, replication: int, seed: int,
              tables: Sequence[str] = (), max_memory: float | None = None) -> dict[str, Any]:
    """One run of an experiment (the unit an executor ships): simulate ``scn`` with ``seed``
    and return its identity and summary row, its wall and CPU time, and the ``tables`` asked
    for."""
    cpu, wall = time.process_time(), time.perf_counter()
    res = run(scn, seed=seed, variant=f"p{point}", replication=replication,
              max_memory=max_memory)
    row = {"point": point, "replication": replication, "seed": seed, **res.summary}
    out: dict[str, Any] = {"row": row, "wall_time": time.perf_counter() - wall,
                           "cpu_time": time.process_time() - cpu}
    if tables:
        out["tables"] = {name: getattr(res, name) for name in tables}
    return out


# --------------------------------------------------------------------------- designs


def _point_label(i: int) -> str:
    return f"point {i}"


@dataclass(frozen=True)
class Design:
    """What an experiment runs: ``len(points)`` scenario points, each replicated with paired
    seeds.

    ``scenario(i)`` builds point ``i``'s scenario (when needed, so that memory stays flat);
    ``points[i]`` holds its value of each of ``parameters`` (the parameter columns of the runs
    table); ``spec`` says what the experiment is (stored in its state folder, which is never
    used for another experiment); ``label(i)`` names point ``i`` in messages. ``tables``
    (``"tasks"``, ``"workers"``) are kept in the dataset for the runs of the replications
    below ``tables_replications`` (all when None)."""

    scenario: Callable[[int], Scenario]
    parameters: Sequence[str]
    points: Sequence[Sequence[Any]]
    seed: int
    spec: Mapping[str, Any]
    label: Callable[[int], str] = _point_label
    tables: tuple[str, ...] = ()
    tables_replications: int | None = None

    @property
    def size(self) -> int:
        """Number of points."""
        return len(self.points)

    def check(self, max_memory: float | None) -> None:
        """Build every point's scenario now and check its size against ``max_memory`` (GiB),
        so that a bad value or a run too large fails before any run, naming the point."""
        for i in range(self.size):
            try:
                size.check(self.scenario(i), max_memory)
            except ScenarioError as exc:
                raise in_context(exc, self.label(i)) from None


@dataclass
class _Tally:
    """The runs an open design found in its store, and the wall and CPU time of those it
    computed."""

    resumable: set[tuple[int, int]] = field(default_factory=set)
    compute: float = 0.0
    cpu: float = 0.0


ProgressHook = Callable[[int, int], object]
"""``progress=`` as a callable: called with (runs done, runs asked for) after every run."""
CancelHook = Callable[[], bool]
"""``cancel=``: returns True once the experiment should stop (``threading.Event().is_set``)."""


class DesignRun:
    """An open :class:`Design`: its run dataset in ``store`` (a temporary folder when None;
    damaged run files there raise StoreError, or are computed again with ``repair``) and its
    executor (``executor``, ``processes``: see :mod:`sim.experiments.executors`). Every
    point's scenario and size (``max_memory``: see :func:`sim.run`) is checked first.
    ``progress``: a bar (True), none (False) or a :data:`ProgressHook`; ``cancel``: a
    :data:`CancelHook` asked after every run (see the module docstring).

    :meth:`run` runs the replications asked for (only those not already in the store), as
    often as needed: ``compare(target=...)`` asks for more until its intervals are narrow
    enough. Use it as a context manager; closing it closes the executor and removes a
    temporary store."""

    def __init__(self, design: Design, *, store: str | Path | None = None,
                 executor: Any = None, processes: int | None = None,
                 progress: bool | ProgressHook = True, repair: bool = False,
                 max_memory: float | str | None = None, cancel: CancelHook | None = None
                 ) -> None:
        self.design = design
        self.progress = progress
        self.cancel = cancel
        self.max_memory = size.parse_memory(max_memory) / size.GIB
        design.check(self.max_memory)
        self.started = time.perf_counter()
        with ExitStack() as stack:  # an executor that fails to start closes the dataset
            self.data = stack.enter_context(RunDataset(
                store or None, dict(design.spec), design.parameters, design.points, repair,
                design.tables, design.tables_replications))
            self.pool = stack.enter_context(
                open_executor(executor, processes or default_workers()))
            self._stack = stack.pop_all()
        self._tally = _Tally(resumable=set(self.data.done))
        self.replications = 0

    def __enter__(self) -> DesignRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the executor (if this run started it) and remove a temporary store."""
        self._stack.close()

    def _tasks(self, replications: int) -> Iterator[tuple]:
        design, done = self.design, self.data.done
        for p in range(design.size):
            missing = [r for r in range(replications) if (p, r) not in done]
            if missing:
                scn = design.scenario(p)  # built when needed: memory stays flat
                for r in missing:
                    tables = design.tables if self.data.keeps_tables(r) else ()
                    yield (scn, p, r, replication_seed(design.seed, r), tables,
                           self.max_memory)

    def run(self, replications: int) -> pd.DataFrame:
        """Run replications ``0..replications-1`` of every point (skipping those already in
        the store) and return their runs table: one row per run, sorted by point and
        replication, with the points' parameter columns after ``point``."""
        total = self.design.size * replications
        done = sum(1 for p, r in self.data.done if p < self.design.size and r < replications)
        hook = self.progress if callable(self.progress) else None
        bar = progress_bar(total, done, hook is None and bool(self.progress), self.pool)
        tally = self._tally
        try:
            self._check_cancel()
            with closing(self.pool.map_unordered(run_point, self._tasks(replications))
                         ) as results:
                for result in results:
                    self.data.add(result)
                    tally.compute += result["wall_time"]
                    tally.cpu += result["cpu_time"]
                    bar.update()
                    done += 1
                    if hook is not None:
                        hook(done, total)
                    self._check_cancel()
        finally:
            bar.close()
        self.replications = replications
        runs = self.data.runs(self.design.size, replications)
        return with_parameters(runs, points_frame(self.design.parameters, self.design.points))

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled(f"cancelled after {len(self.data.done)} runs")

    def table(self, name: str, point: int, replication: int) -> pd.DataFrame:
        """The ``name`` table kept for run (``point``, ``replication``)."""
        return self.data.table(name, point, replication)

    @property
    def stats(self) -> dict[str, Any]:
        """How the runs of the last :meth:`run` were obtained: the executor, runs computed and
        resumed from the store, wall time since the design was opened, and the wall and CPU
        time of the runs computed."""
        used = self.design.size * self.replications
        resumed = sum(1 for p, r in self._tally.resumable
                      if p < self.design.size and r < self.replications)
        return {"executor": self.pool.describe(), "workers": self.pool.workers,
                "runs_computed": used - resumed, "runs_resumed": resumed,
                "wall_time": time.perf_counter() - self.started,
                "compute_time": self._tally.compute, "compute_cpu_time": self._tally.cpu}


def run_design(design: Design, replications: int, **options: Any
               ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run ``replications`` of every point of ``design`` (``options``: those of
    :class:`DesignRun`) and return the runs table and the run statistics."""
    with DesignRun(design, **options) as session:
        return session.run(replications), session.stats
