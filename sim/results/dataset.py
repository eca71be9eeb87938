"""Experiment datasets: finished runs streamed to Parquet, one file per run, and the helpers
that load them back into pandas.

A sweep or sensitivity analysis writes each run's summary to disk the moment it finishes, so
an experiment of any size never holds its results in memory and an interrupted one resumes by
skipping the runs already on disk. A dataset folder holds:

- ``spec.json``: what the runs are (scenario, points, seed), marked as written by microwork;
  a folder is never mixed with another experiment, nor used if it holds anything else;
- ``points.json``: ``{"parameters": [...], "values": [[...], ...]}``, the parameter values of
  each scenario point (point ``i`` is ``values[i]``);
- ``runs/p000012-r00003.parquet``: one row per finished run (``point``, ``replication``,
  ``seed`` and every summary metric), written under a temporary name and renamed, so a file
  that exists is complete (each is checked when the dataset is opened again);
- ``tables/<name>/p000012-r00003.parquet`` (only when asked): a run's full ``tasks`` or
  ``workers`` table (a comparison keeps the ``workers`` table of replication 0, for the
  earnings of its Lorenz overlay).

Comparisons, sweeps and sensitivity analyses all keep their state in such a dataset (see
:mod:`sim.experiments.design`). A result folder written by ``microwork sweep`` or ``microwork
sensitivity`` holds the same ``points.json`` with the runs consolidated into one
``runs.parquet``; :func:`load_runs` and :func:`load_points` read both kinds of folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sim.foundation.errors import SpecError, StoreError
from sim.results.storage import (
    WRITTEN_BY,
    StateLayout,
    damaged,
    read_json,
    read_table,
    replacing,
    write_text,
)

IDENTITY = ["point", "replication", "seed"]
"""Identity columns of every run row."""
TABLE_NAMES = ("tasks", "workers")
"""Run tables that an experiment can keep on request."""
SPEC_FILE, POINTS_FILE, RUNS_DIR, RUNS_FILE, TABLES_DIR = (
    "spec.json", "points.json", "runs", "runs.parquet", "tables")


def run_file_name(point: int, replication: int) -> str:
    """File name of run (``point``, ``replication``) in a dataset's ``runs/`` folder."""
    return f"p{point:06d}-r{replication:05d}.parquet"


def _parse_run_file_name(name: str) -> tuple[int, int] | None:
    stem = name.removesuffix(".parquet")
    p, _, r = stem.partition("-")
    if name.endswith(".parquet") and p[1:].isdigit() and r[1:].isdigit():
        return int(p[1:]), int(r[1:])
    return None


STATE = StateLayout(kind="experiment", files=(POINTS_FILE,),
                    run_dirs=(RUNS_DIR, *(f"{TABLES_DIR}/{name}" for name in TABLE_NAMES)),
                    is_run_file=lambda name: _parse_run_file_name(name) is not None,
                    spec_file=SPEC_FILE)
"""The dataset folder of a comparison, sweep or sensitivity analysis as a state folder:
``spec.json``, ``points.json``, ``runs/`` and ``tables/<name>/`` (one Parquet file per run)."""


def check_state(folder: Path) -> dict[str, Any] | None:
    """:meth:`STATE.check <sim.results.storage.StateLayout.check>` of ``folder`` (its stored
    spec, or None when absent or empty), saying so when the folder holds the state of a
    comparison interrupted under an older version (one JSON file per run), which cannot be
    resumed."""
    try:
        return STATE.check(folder)
    except StoreError as exc:
        raise _retired(folder) or exc from None


def _retired(folder: Path) -> StoreError | None:
    """The error naming an older version's comparison state in ``folder``, if it is one."""
    try:
        data = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and data.get("written_by") == WRITTEN_BY
            and data.get("kind") == "comparison"):
        return None
    return StoreError(f"{folder} holds the runs of a comparison interrupted under an older "
                      "version of microwork (one JSON file per run), which this version cannot "
                      "resume: remove the folder (the comparison then runs from the start), or "
                      "finish it with the older version")


def _run_file_problem(path: Path, key: tuple[int, int]) -> str:
    """What is wrong with the run file ``path`` of run ``key`` ("" when it is sound)."""
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError, pa.ArrowException) as exc:
        return f"cannot be read as Parquet ({exc})"
    if len(rows) != 1 or (rows[0].get("point"), rows[0].get("replication")) != key:
        return f"does not hold the one row of run (point, replication) = {key}"
    return ""


def _table_file_problem(path: Path) -> str:
    """What is wrong with a kept run table ``path`` ("" when its Parquet footer is sound)."""
    try:
        pq.read_metadata(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        return f"cannot be read as Parquet ({exc})"
    return ""


class RunDataset:
    """The dataset of one experiment in ``folder`` (a temporary folder, removed by
    :meth:`close`, when ``folder`` is None): finished runs are added one by one and loaded
    back as a table.

    Opening a folder checks it (a state folder microwork wrote for the same experiment, see
    :data:`STATE`) and every run file in it, before anything is computed: a damaged file
    raises StoreError, or with ``repair`` is deleted (with the run's other files) so that the
    run is computed again. A run counts as finished (:attr:`done`) once its row and the
    ``tables`` kept for it (those of replications below ``tables_replications``, or of every
    replication when None) are on disk."""

    def __init__(self, folder: str | Path | None, spec: dict[str, Any],
                 parameters: Sequence[str], points: Sequence[Sequence[Any]],
                 repair: bool = False, tables: Sequence[str] = (),
                 tables_replications: int | None = None) -> None:
        self.temporary = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="microwork-runs-")) if folder is None \
            else Path(folder)
        try:
            STATE.open(self.folder, spec)
        except StoreError as exc:
            raise _retired(self.folder) or exc from None
        write_text(self.folder / POINTS_FILE, json.dumps(
            {"parameters": list(parameters), "values": [list(v) for v in points]}, default=str))
        (self.folder / RUNS_DIR).mkdir(exist_ok=True)
        self.tables = tuple(tables)
        self.tables_replications = tables_replications
        self.done: set[tuple[int, int]] = set()
        self._check(repair)

    def keeps_tables(self, replication: int) -> bool:
        """Whether the runs of ``replication`` keep :attr:`tables`."""
        return self.tables_replications is None or replication < self.tables_replications

    def _check(self, repair: bool) -> None:
        """Read every run file and check every kept table; fill :attr:`done` with the runs
        whose row and kept tables are all sound."""
        bad: list[tuple[Path, str]] = []
        kept: dict[str, set[tuple[int, int]]] = {name: set() for name in TABLE_NAMES}
        runs = self.folder / RUNS_DIR
        for entry in sorted(os.scandir(runs), key=lambda e: e.name):
            key = _parse_run_file_name(entry.name)
            if key is None:
                continue  # a temporary file of a running writer
            problem = _run_file_problem(Path(entry.path), key)
            if problem:
                bad.append((Path(entry.path), problem))
            else:
                self.done.add(key)
        for name in TABLE_NAMES:
            folder = self.folder / TABLES_DIR / name
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                key = _parse_run_file_name(path.name)
                problem = _table_file_problem(path) if key is not None else ""
                if problem:
                    bad.append((path, problem))
                    if key in self.done:  # compute the run again, with its tables
                        self.done.discard(key)
                        bad.append((runs / path.name, "its kept table is damaged"))
                elif key is not None:
                    kept[name].add(key)
        damaged(bad, repair)
        self.done = {key for key in self.done if not self.keeps_tables(key[1])
                     or all(key in kept[name] for name in self.tables)}

    def add(self, result: dict[str, Any]) -> None:
        """Write one finished run: ``result["row"]`` (identity and summary) and, if present,
        its ``result["tables"]`` ({name: DataFrame})."""
        row = result["row"]
        key = (int(row["point"]), int(row["replication"]))
        name = run_file_name(*key)
        for table, frame in (result.get("tables") or {}).items():
            folder = self.folder / TABLES_DIR / table
            folder.mkdir(parents=True, exist_ok=True)
            with replacing(folder / name) as tmp:
                frame.to_parquet(tmp, index=False)
        with replacing(self.folder / RUNS_DIR / name) as tmp:  # last: a listed run is complete
            pq.write_table(pa.Table.from_pylist([row]), tmp)
        self.done.add(key)

    def table(self, name: str, point: int, replication: int) -> pd.DataFrame:
        """The ``name`` table kept for run (``point``, ``replication``)."""
        path = self.folder / TABLES_DIR / name / run_file_name(point, replication)
        return read_table(path, pd.read_parquet)

    def runs(self, points: int, replications: int) -> pd.DataFrame:
        """Rows of the runs of points ``0..points-1`` and replications ``0..replications-1``,
        sorted by point and replication (the order the runs finished in never matters)."""
        where = (ds.field("point") < points) & (ds.field("replication") < replications)
        return _read_runs(self.folder / RUNS_DIR, where=where)

    def close(self) -> None:
        """Remove the folder if it is a temporary one."""
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RunDataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_runs(source: Path, columns: Sequence[str] | None = None,
               where: ds.Expression | None = None) -> pd.DataFrame:
    """Rows of a ``runs/`` folder or a ``runs.parquet`` file, sorted by point and replication.
    The schemas of all files are unified, so runs with extra metrics (e.g. a profile only some
    points have) are read with NaN where a run lacks a column."""
    if source.is_dir():
        files = sorted(str(source / e.name) for e in os.scandir(source)
                       if _parse_run_file_name(e.name))
        if not files:
            return pd.DataFrame(columns=list(columns) if columns else IDENTITY)
        schema = pa.unify_schemas([pq.read_schema(f) for f in files])
        data = ds.dataset(files, schema=schema, format="parquet")
    else:
        data = ds.dataset(str(source), format="parquet")
    if columns is not None:
        missing = [c for c in columns if c not in data.schema.names]
        if missing:
            raise SpecError(f"metrics: unknown column(s) {missing}; the runs have "
                                f"{', '.join(data.schema.names)}")
        columns = list(dict.fromkeys([*IDENTITY, *columns]))
    table = data.to_table(columns=columns, filter=where)
    frame = table.to_pandas()
    return frame.sort_values(["point", "replication"], kind="stable").reset_index(drop=True)


def points_frame(parameters: Sequence[str], values: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """One row per point: ``point`` and one column per parameter (``None`` values kept as
    such in object columns, so "no daily cap" stays distinct from a number)."""
    frame = pd.DataFrame({"point": pd.Series(range(len(values)), dtype="int64")})
    for i, name in enumerate(parameters):
        column = [v[i] for v in values]
        series = pd.Series(column, dtype=object)
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in column):
            series = series.infer_objects()
        frame[name] = series
    return frame


def with_parameters(runs: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with each point's parameter columns inserted after ``point``."""
    merged = runs.merge(points, on="point", how="left", sort=False)
    params = [c for c in points.columns if c != "point"]
    rest = [c for c in runs.columns if c != "point"]
    return merged[["point", *params, *rest]]


def load_points(folder: str | Path) -> pd.DataFrame:
    """The points of a dataset or result folder: ``point`` and one column per parameter."""
    path = Path(folder) / POINTS_FILE
    data = read_json(path)
    if not (isinstance(data, dict) and isinstance(data.get("parameters"), list)
            and isinstance(data.get("values"), list)):
        raise StoreError(f"{path}: expected {{\"parameters\": [...], \"values\": [...]}}")
    return points_frame(data["parameters"], data["values"])


def load_runs(folder: str | Path, metrics: Sequence[str] | None = None,
              points: Iterable[int] | None = None, parameters: bool = True) -> pd.DataFrame:
    """Load the runs of a dataset folder (``runs/``, also while the experiment is running) or
    of a result folder (``runs.parquet``) into pandas: identity columns, the points' parameter
    columns (unless ``parameters=False``) and ``metrics`` (default: all), for ``points`` only
    when given. Only the requested columns and rows are read from disk."""
    folder = Path(folder)
    source = folder / RUNS_FILE if (folder / RUNS_FILE).exists() else folder / RUNS_DIR
    if not source.exists():
        raise StoreError(f"{folder}: no {RUNS_FILE} or {RUNS_DIR}/ here; expected the "
                         "folder of a sweep or sensitivity analysis")
    where = ds.field("point").isin(sorted(set(points))) if points is not None else None
    runs = _read_runs(source, columns=metrics, where=where)
    return with_parameters(runs, load_points(folder)) if parameters else runs


def load_table(folder: str | Path, name: str, points: Iterable[int] | None = None
               ) -> pd.DataFrame:
    """Concatenate the ``tasks`` or ``workers`` tables kept for the runs of a dataset (with
    ``tables=[...]``), for ``points`` only when given; rows carry ``point`` and
    ``replication``."""
    if name not in TABLE_NAMES:
        raise SpecError(f"table: got {name!r}; allowed: {', '.join(TABLE_NAMES)}")
    where = Path(folder) / TABLES_DIR / name
    wanted = set(points) if points is not None else None
    frames = []
    for path in sorted(where.glob("*.parquet")) if where.exists() else []:
        key = _parse_run_file_name(path.name)
        if key is None or (wanted is not None and key[0] not in wanted):
            continue
        frame = pd.read_parquet(path)
        frame.insert(0, "point", key[0])
        frames.append(frame)
    if not frames:
        raise StoreError(f"{folder}: no {name} tables kept; run the experiment with "
                         f"tables=[{name!r}] to keep them")
    return pd.concat(frames, ignore_index=True)


def write_runs(folder: Path, runs: pd.DataFrame, parameters: Sequence[str],
               points: Sequence[Sequence[Any]]) -> None:
    """Write a result folder's consolidated ``runs.parquet`` (identity and metrics, without
    parameter columns) and its ``points.json``."""
    metrics = [c for c in runs.columns if c not in IDENTITY and c not in parameters]
    runs[[*IDENTITY, *metrics]].to_parquet(folder / RUNS_FILE, index=False)
    (folder / POINTS_FILE).write_text(json.dumps(
        {"parameters": list(parameters), "values": [list(v) for v in points]}, default=str))
