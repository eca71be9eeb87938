"""Parameter sweeps: every point of a full-factorial grid of scenario overrides, replicated with
paired seeds, on any executor, streamed to a Parquet dataset.

A grid maps an *axis* to its values. An axis is a dotted scenario path
(``"platform.daily_cap": [20, 50, 100, None]``), or several paths that move together, written
as a comma-joined key (a tuple in Python) whose values are lists with one value per path::

    "profiles.distressed.share,profiles.part_time.share": [[0.1, 0.62], [0.22, 0.5]]

Linked paths are how a sweep keeps constrained fields valid: profile shares must sum to 1, so
the profile that absorbs the change is moved with the swept one. The sweep's points are the
product of the axes (the first axis varies slowest). Replication ``r`` of every point runs with
seed :func:`sim.experiment.replication_seed` ``(seed, r)``: the same workers' draws and task
arrivals wherever the scenario allows it (common random numbers), as in :func:`sim.compare`.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.metrics import summary_keys
from sim.experiments.compare import interval_table, replication_seed
from sim.experiments.executors import open_executor, progress_bar
from sim.foundation.checks import check_seed
from sim.foundation.errors import ScenarioError
from sim.results.dataset import (
    IDENTITY,
    TABLE_NAMES,
    RunDataset,
    points_frame,
    with_parameters,
    write_runs,
)
from sim.results.run import run
from sim.results.run_result import provenance
from sim.results.storage import write_folder, write_manifest
from sim.scenario import size
from sim.scenario.loading import in_context, load_scenario, override
from sim.scenario.schema import Scenario
from sim.scenario.yaml_io import read_yaml

SWEEP_SPEC_KEYS = ("scenario", "overrides", "grid", "replications", "seed", "metrics",
                   "processes")
"""Keys of a sweep spec file (see ``scenarios/sweeps/``)."""
DEFAULT_METRICS = ("earnings_gini", "claim_latency_mean", "hourly_effective_median",
                   "fill_rate")
"""Metrics a sweep prints and plots when its spec names none."""


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


def run_design(
    make_scenario: Callable[[int], Scenario],
    n_points: int,
    replications: int,
    seed: int,
    *,
    spec: dict[str, Any],
    parameters: Sequence[str],
    points: Sequence[Sequence[Any]],
    executor: Any = None,
    processes: int | None = None,
    store: str | Path | None = None,
    tables: Sequence[str] = (),
    progress: bool = True,
    repair: bool = False,
    max_memory: float | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run ``replications`` of every point (``make_scenario(i)`` is point ``i``'s scenario),
    skipping runs already in ``store`` (damaged run files there raise StoreError, or are
    computed again with ``repair``); return the runs table (sorted by point and replication,
    with parameter columns) and run statistics. Shared by sweeps and sensitivity analyses."""
    started = time.perf_counter()
    with RunDataset(store, spec, parameters, points, repair) as data, \
            open_executor(executor, processes) as pool:
        total = n_points * replications
        done_before = sum(1 for p, r in data.done if p < n_points and r < replications)

        def tasks() -> Iterator[tuple]:
            for p in range(n_points):
                missing = [r for r in range(replications) if (p, r) not in data.done]
                if missing:
                    scn = make_scenario(p)  # built when needed: memory stays flat
                    for r in missing:
                        yield (scn, p, r, replication_seed(seed, r), tuple(tables),
                               max_memory)

        bar = progress_bar(total, done_before, progress, pool)
        compute = cpu = 0.0
        computed = 0
        try:
            with closing(pool.map_unordered(run_point, tasks())) as results:
                for result in results:
                    data.add(result)
                    compute += result["wall_time"]
                    cpu += result["cpu_time"]
                    computed += 1
                    bar.update()
        finally:
            bar.close()
        runs = data.runs(n_points, replications)
        stats = {"executor": pool.describe(), "workers": pool.workers,
                 "runs_computed": computed, "runs_resumed": done_before,
                 "wall_time": time.perf_counter() - started, "compute_time": compute,
                 "compute_cpu_time": cpu}
    return with_parameters(runs, points_frame(parameters, points)), stats


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
    """Check a grid and return its axes; a bad axis raises ScenarioError naming it, the value
    given and what is allowed."""
    if not isinstance(grid, Mapping) or not grid:
        raise ScenarioError(f"grid: expected a mapping of dotted scenario paths to lists of "
                            f"values (e.g. {{platform.daily_cap: [20, 50, null]}}), got {grid!r}")
    axes, seen = [], set()
    for key, values in grid.items():
        if isinstance(key, tuple):
            paths = tuple(str(p).strip() for p in key)
        elif isinstance(key, str):
            paths = tuple(p.strip() for p in key.split(","))
        else:
            raise ScenarioError(f"grid: axis {key!r}: expected a dotted scenario path (or "
                                "several, comma-separated)")
        name = ",".join(paths)
        if not all(paths):
            raise ScenarioError(f"grid.{name}: empty path (stray comma?)")
        for path in paths:
            if path in seen:
                raise ScenarioError(f"grid.{name}: {path!r} is set by two axes; each path "
                                    "may appear once")
            seen.add(path)
        if not isinstance(values, list | tuple) or not values:
            raise ScenarioError(f"grid.{name}: expected a non-empty list of values, "
                                f"got {values!r}")
        if len(paths) == 1:
            levels = tuple((v,) for v in values)
        else:
            bad = [v for v in values if not isinstance(v, list | tuple) or len(v) != len(paths)]
            if bad:
                raise ScenarioError(
                    f"grid.{name}: linked paths take lists of {len(paths)} values, one per "
                    f"path (e.g. [{', '.join('v' + str(i + 1) for i in range(len(paths)))}]), "
                    f"got {bad[0]!r}")
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
        raise ScenarioError(f"{field}: expected a non-empty list of summary metrics (e.g. "
                            f"[earnings_gini, claim_latency_mean]), got {names!r}")
    for name in names:
        if name not in allowed:
            raise ScenarioError(f"{field}: unknown metric {name!r}; allowed: "
                                f"{', '.join(allowed)}")
    return list(names)


def _whole(value: Any, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{field}: expected a whole number of at least {minimum}, "
                            f"got {value!r}")
    return value


def _check_tables(tables: Sequence[str]) -> tuple[str, ...]:
    for name in tables:
        if name not in TABLE_NAMES:
            raise ScenarioError(f"tables: got {name!r}; allowed: {', '.join(TABLE_NAMES)}")
    return tuple(tables)


def point_scenarios(base: Scenario, paths: Sequence[str], points: Sequence[Sequence[Any]],
                    what: str = "grid point", max_memory: float | str | None = None,
                    ) -> Callable[[int], Scenario]:
    """Validate the scenario of every point now, and check its size against ``max_memory``
    (so a bad value or a run too large fails before any run), and return the function that
    builds point ``i``'s scenario when it is needed."""

    def make(i: int) -> Scenario:
        return override(base, dict(zip(paths, points[i], strict=True)))

    for i in range(len(points)):
        try:
            size.check(make(i), max_memory)
        except ScenarioError as exc:
            raise in_context(exc, f"{what} {i}") from None
    return make


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
        folder atomically (see :func:`sim.folders.staged_folder`: an existing folder is
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
    replications = _whole(replications, "replications", 1)
    seed = check_seed(seed)
    tables = _check_tables(tables)
    if tables and store is None:
        raise ScenarioError("tables: keeping run tables needs a store folder (store=...)")
    paths, points = grid_paths(axes), grid_points(axes)
    limit = size.parse_memory(max_memory) / size.GIB
    make = point_scenarios(base, paths, points, max_memory=limit)
    spec = {"kind": "sweep", "scenario": base.to_dict(), "parameters": paths,
            "points": points, "seed": seed}
    runs, stats = run_design(make, len(points), replications, seed, spec=spec,
                             parameters=paths, points=points, executor=executor,
                             processes=processes, store=store, tables=tables,
                             progress=progress, repair=repair, max_memory=limit)
    return SweepResult(runs=runs, axes=axes, scenario=base, seed=seed, level=level, stats=stats)


# --------------------------------------------------------------------------- spec files


def read_spec(source: str | Path, allowed: Sequence[str], required: Sequence[str],
              kind: str) -> tuple[dict[str, Any], Scenario]:
    """Read a sweep or sensitivity spec file: its keys (unknown ones are errors) and its
    scenario (a path relative to the spec file, or an inline mapping) with ``overrides``
    applied. Errors name the file and the field."""
    path = Path(source)
    data = read_yaml(path, f"{kind} spec")
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a {kind} spec is a mapping with keys "
                            f"{', '.join(allowed)}; got {data!r}")
    unknown = sorted(set(data) - set(allowed), key=str)
    if unknown:
        raise ScenarioError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; a {kind} "
                            f"spec has {', '.join(allowed)}")
    for key in required:
        if key not in data:
            raise ScenarioError(f"{path}: {key}: missing (a {kind} spec needs "
                                f"{', '.join(required)})")
    reference = data["scenario"]
    if isinstance(reference, str) and reference.strip():
        scenario = load_scenario(path.parent / reference)
    elif isinstance(reference, dict):
        try:
            scenario = load_scenario(reference)
        except ScenarioError as exc:
            raise ScenarioError(f"{path}: scenario: {exc}") from None
    else:
        raise ScenarioError(f"{path}: scenario: expected the path of a scenario file (relative "
                            f"to the spec) or a scenario mapping, got {reference!r}")
    changes = data.get("overrides") or {}
    if not isinstance(changes, dict):
        raise ScenarioError(f"{path}: overrides: expected a mapping of dotted paths to values, "
                            f"got {changes!r}")
    if changes:
        try:
            scenario = override(scenario, changes)
        except ScenarioError as exc:
            raise ScenarioError(f"{path}: overrides: {exc}") from None
    for key, minimum in (("replications", 1), ("seed", 0), ("processes", 1)):
        if data.get(key) is not None:
            _whole(data[key], f"{path}: {key}", minimum)
    return data, scenario


@dataclass
class SweepSpec:
    """A sweep as read from a spec file (see ``scenarios/sweeps/``)."""

    name: str
    scenario: Scenario
    grid: dict[str, Any]
    replications: int = 10
    seed: int = 1
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    processes: int | None = None


def load_sweep_spec(source: str | Path) -> SweepSpec:
    """Read and check a sweep spec: ``scenario``, optional ``overrides``, ``grid`` and
    optionally ``replications``, ``seed``, ``metrics`` (to print and plot), ``processes``."""
    data, scenario = read_spec(source, SWEEP_SPEC_KEYS, ("scenario", "grid"), "sweep")
    where = str(source)
    try:
        parse_grid(data["grid"])
        metrics = check_metrics(data.get("metrics"), scenario, "metrics")
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return SweepSpec(name=Path(source).stem, scenario=scenario, grid=data["grid"],
                     replications=data.get("replications") or 10,
                     seed=1 if data.get("seed") is None else data["seed"], metrics=metrics,
                     processes=data.get("processes"))


def default_workers() -> int:
    """Default size of a local pool or local Dask cluster: the number of cores."""
    return os.cpu_count() or 1
