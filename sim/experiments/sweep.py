"""Parameter sweeps: every point of a full-factorial grid of scenario overrides, replicated with
paired seeds, on any executor, streamed to a Parquet dataset.

A grid maps an *axis* to its values. An axis is a dotted scenario path
(``"platform.daily_cap": [20, 50, 100, None]``), or several paths that move together, written
as a comma-joined key (a tuple in Python) whose values are lists with one value per path::

    "profiles.distressed.share,profiles.part_time.share": [[0.1, 0.62], [0.22, 0.5]]

Linked paths are how a sweep keeps constrained fields valid: profile shares must sum to 1, so
the profile that absorbs the change is moved with the swept one. The sweep's points are the
product of the axes (the first axis varies slowest). Replication ``r`` of every point runs with
seed :func:`sim.experiments.design.replication_seed` ``(seed, r)``: the same workers' draws and
task arrivals wherever the scenario allows it (common random numbers), as in :func:`sim.compare`.
The points are those of a :class:`~sim.experiments.design.Design`, run by the design machinery
that comparisons and sensitivity analyses share.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from pydantic import Field

from sim.analysis.metrics import summary_keys
from sim.analysis.statistics import interval_table
from sim.experiments.design import Design, check_seed, run_design, whole
from sim.experiments.specs import Count, ExperimentSpec, Seed
from sim.foundation.errors import SpecError, shown
from sim.results.dataset import (
    IDENTITY,
    TABLE_NAMES,
    points_frame,
    with_parameters,
    write_runs,
)
from sim.results.storage import provenance, write_folder, write_manifest
from sim.scenario.loading import load_scenario, override
from sim.scenario.schema import Scenario

DEFAULT_METRICS = ("earnings_gini", "claim_latency_mean", "hourly_effective_median",
                   "fill_rate")
"""Metrics a sweep prints and plots when its spec names none."""


# --------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class Axis:
    """One axis of a grid: the dotted ``paths`` it sets and its ``values`` (one tuple with a
    value per path for each level)."""

    name: str
    paths: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @property
    def label(self) -> str:
        """The first path, naming the axis in tables and plots (linked paths follow it)."""
        return self.paths[0]


def parse_grid(grid: Mapping[Any, Any]) -> list[Axis]:
    """Check a grid and return its axes; a bad axis raises SpecError naming it, the value
    given and what is allowed."""
    if not isinstance(grid, Mapping) or not grid:
        raise SpecError(f"grid: expected a mapping of dotted scenario paths to lists of "
                        f"values (e.g. {{platform.daily_cap: [20, 50, null]}}), got "
                        f"{shown(grid)}")
    axes, seen = [], set()
    for key, values in grid.items():
        if isinstance(key, tuple):
            paths = tuple(str(p).strip() for p in key)
        elif isinstance(key, str):
            paths = tuple(p.strip() for p in key.split(","))
        else:
            raise SpecError(f"grid: axis {shown(key)}: expected a dotted scenario path (or "
                            "several, comma-separated)")
        name = ",".join(paths)
        if not all(paths):
            raise SpecError(f"grid.{name}: empty path (stray comma?)")
        for path in paths:
            if path in seen:
                raise SpecError(f"grid.{name}: {path!r} is set by two axes; each path "
                                "may appear once")
            seen.add(path)
        if not isinstance(values, list | tuple) or not values:
            raise SpecError(f"grid.{name}: expected a non-empty list of values, "
                            f"got {shown(values)}")
        if len(paths) == 1:
            levels = tuple((v,) for v in values)
        else:
            bad = [v for v in values if not isinstance(v, list | tuple) or len(v) != len(paths)]
            if bad:
                raise SpecError(
                    f"grid.{name}: linked paths take lists of {len(paths)} values, one per "
                    f"path (e.g. [{', '.join('v' + str(i + 1) for i in range(len(paths)))}]), "
                    f"got {shown(bad[0])}")
            levels = tuple(tuple(v) for v in values)
        axes.append(Axis(name, paths, levels))
    return axes


def grid_points(axes: Sequence[Axis]) -> list[list[Any]]:
    """The full-factorial points of ``axes`` (first axis slowest): per point, the value of
    every path in axis order."""
    return [[v for level in combo for v in level]
            for combo in itertools.product(*(a.values for a in axes))]


def grid_paths(axes: Sequence[Axis]) -> list[str]:
    """Every path the axes set, in axis order (the parameter columns of a sweep's tables)."""
    return [p for a in axes for p in a.paths]


def check_metrics(names: Sequence[str] | None, scenario: Scenario, field: str,
                  default: Sequence[str] = DEFAULT_METRICS) -> list[str]:
    """Check that ``names`` are summary keys of ``scenario``'s runs (see sim.analysis.metrics);
    ``None`` gives ``default``."""
    if names is None:
        return list(default)
    allowed = summary_keys(scenario.profiles)
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise SpecError(f"{field}: expected a non-empty list of summary metrics (e.g. "
                        f"[earnings_gini, claim_latency_mean]), got {shown(names)}")
    for name in names:
        if name not in allowed:
            raise SpecError(f"{field}: unknown metric {shown(name)}; allowed: "
                            f"{', '.join(allowed)}")
    return list(names)


def _check_tables(tables: Sequence[str]) -> tuple[str, ...]:
    for name in tables:
        if name not in TABLE_NAMES:
            raise SpecError(f"tables: got {shown(name)}; allowed: {', '.join(TABLE_NAMES)}")
    return tuple(tables)


def point_design(base: Scenario, paths: Sequence[str], points: Sequence[Sequence[Any]],
                 seed: int, spec: dict[str, Any], what: str, parameters: Sequence[str] = (),
                 values: Sequence[Sequence[Any]] = (), tables: Sequence[str] = ()) -> Design:
    """The design of a sweep or sensitivity analysis: point ``i`` sets each of ``paths`` of
    ``base`` to its value in ``points[i]``; its parameter values (``values[i]`` of
    ``parameters``) are those of ``points[i]`` unless given; messages name it ``what i``."""

    def make(i: int) -> Scenario:
        return override(base, dict(zip(paths, points[i], strict=True)))

    return Design(scenario=make, parameters=list(parameters or paths),
                  points=values or points, seed=seed, spec=spec,
                  label=lambda i: f"{what} {i}", tables=tuple(tables))


# --------------------------------------------------------------------------- results


@dataclass
class SweepResult:
    """Results of :func:`sweep`: one row per run (``point``, one column per swept path,
    ``replication``, ``seed``, every summary metric) and interval tables built from them."""

    runs: pd.DataFrame
    axes: list[Axis]
    scenario: Scenario
    seed: int = 1
    level: float = 0.95
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def parameters(self) -> list[str]:
        """The swept paths, in axis order."""
        return grid_paths(self.axes)

    @property
    def points(self) -> pd.DataFrame:
        """One row per point: ``point`` and the value of every swept path."""
        return points_frame(self.parameters, grid_points(self.axes))

    @property
    def metrics(self) -> list[str]:
        """Summary metrics available for the runs."""
        skip = {*IDENTITY, *self.parameters}
        return [c for c in self.runs.columns if c not in skip]

    def table(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Per point and metric: the swept values, number of replications, mean, standard
        error and the t-based interval of the mean."""
        metrics = list(metrics or self.metrics)
        lean = self.runs[["point", *metrics]]
        table = interval_table(lean, "point", metrics, self.level)
        return with_parameters(table, self.points)

    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write ``runs.parquet``, ``points.json``, ``table.csv`` and ``manifest.json`` to a
        folder atomically (see :func:`sim.results.storage.staged_folder`: an existing folder is
        replaced only if it is empty or a sweep folder microwork wrote)."""
        return write_folder(directory, "sweep", lambda folder: self.write_into(folder, extra))

    def write_into(self, folder: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the result files into an existing folder (see :meth:`save`)."""
        write_runs(folder, self.runs, self.parameters, grid_points(self.axes))
        self.table().to_csv(folder / "table.csv", index=False)
        manifest = {"scenario": self.scenario.to_dict(),
                    "grid": {a.name: [list(v) if len(v) > 1 else v[0] for v in a.values]
                             for a in self.axes},
                    "replications": int(self.runs["replication"].nunique()),
                    "seed": self.seed, "level": self.level, **provenance(),
                    **self.stats, **(extra or {})}
        write_manifest(folder, "sweep", manifest)


def sweep(
    scenario: Scenario | dict[str, Any] | str,
    grid: Mapping[Any, Sequence[Any]],
    replications: int = 10,
    seed: int = 1,
    *,
    executor: Any = None,
    processes: int | None = None,
    store: str | Path | None = None,
    tables: Sequence[str] = (),
    progress: bool = True,
    level: float = 0.95,
    repair: bool = False,
    max_memory: float | str | None = None,
) -> SweepResult:
    """Run every point of the full-factorial ``grid`` of overrides of ``scenario``
    ``replications`` times with paired seeds and return a SweepResult.

    ``grid`` maps dotted paths (or comma-joined linked paths, see the module docstring) to values.
    Runs go to ``executor`` (see :mod:`sim.experiments.executors`). Each finished run is written to
    the Parquet dataset ``store`` (a temporary folder when None); a later call with the same
    arguments skips the runs already there; a damaged run file found there raises StoreError, unless
    ``repair`` (then it is deleted and its run computed again). ``tables=["workers"]`` also keeps
    each run's workers (or tasks) table in the store. Every point's size is checked before any run
    (``max_memory``: see :func:`sim.run`).
    """
    base = load_scenario(scenario)
    axes = parse_grid(grid)
    replications = whole(replications, "replications", 1)
    seed = check_seed(seed)
    tables = _check_tables(tables)
    if tables and store is None:
        raise SpecError("tables: keeping run tables needs a store folder (store=...)")
    paths, points = grid_paths(axes), grid_points(axes)
    spec = {"kind": "sweep", "scenario": base.to_dict(), "parameters": paths,
            "points": points, "seed": seed}
    design = point_design(base, paths, points, seed, spec, "grid point", tables=tables)
    runs, stats = run_design(design, replications, executor=executor, processes=processes,
                             store=store, progress=progress, repair=repair,
                             max_memory=max_memory)
    return SweepResult(runs=runs, axes=axes, scenario=base, seed=seed, level=level, stats=stats)


# --------------------------------------------------------------------------- spec files


class SweepSpec(ExperimentSpec):
    """A sweep spec (``scenarios/sweeps/``): ``scenario``, optional ``overrides``, ``grid`` (see
    :func:`sweep`) and optionally ``replications`` (default 10), ``seed``, ``metrics`` (printed
    and plotted) and ``processes``."""

    KIND: ClassVar[str] = "sweep"
    NULL_IS_DEFAULT: ClassVar[tuple[str, ...]] = ("replications", "seed", "metrics")

    grid: dict[str, Any]
    replications: Count = 10
    seed: Seed = 1
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    processes: Count | None = None

    def check(self) -> None:
        """The grid's axes, and the metrics against the scenario's summary keys."""
        parse_grid(self.grid)
        self.metrics = check_metrics(self.metrics, self.scenario, "metrics")


def load_sweep_spec(source: str | Path) -> SweepSpec:
    """Read and check a sweep spec file (see :class:`SweepSpec`)."""
    return SweepSpec.load(source)
