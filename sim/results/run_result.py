"""Run results: tidy tables built once at the end of a run, saved and loaded atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.foundation.errors import ScenarioError, StoreError, shown
from sim.results.panel import worker_months
from sim.results.platforms import platform_summary
from sim.results.storage import (
    MANIFEST_FILE,
    provenance,
    read_json,
    read_table,
    write_folder,
    write_manifest,
)
from sim.results.tables import TABLES
from sim.scenario.loading import validate
from sim.scenario.schema import Scenario

if TYPE_CHECKING:

    from sim.presentation.accessors import RunPlots

@dataclass(repr=False)
class RunResult:
    """Everything one run produced: tables, headline summary and run statistics.

    In a notebook a result displays as its headline and per-profile tables; ``res.plot``
    draws its standard figures (``res.plot.lorenz()``, see :class:`RunPlots`).
    """

    scenario: Scenario
    seed: int
    tasks: pd.DataFrame
    workers: pd.DataFrame
    summary: dict[str, float]
    stats: dict[str, float] = field(default_factory=dict)
    variant: str = "base"
    replication: int = 0
    sessions: pd.DataFrame | None = None
    """One row per time a worker was online (``worker_id``, ``start``, ``end``); None for a
    result folder written before sessions were saved."""
    registrations: pd.DataFrame | None = None
    """Markets of several platforms: one row per worker and platform it is registered on
    (``worker_id``, ``platform``, ``profile``, ``tasks_claimed``, ``earnings``, ``withheld``);
    None with one platform."""

    @property
    def platforms(self) -> pd.DataFrame:
        """Per platform of the market, its headline figures side by side (one row with one
        platform): see :func:`sim.results.platforms.platform_summary`."""
        return platform_summary(self.scenario, self.tasks, self.workers, self.registrations)

    @property
    def horizon(self) -> float:
        """Simulated time in seconds."""
        return self.scenario.horizon

    @property
    def panel(self) -> pd.DataFrame:
        """The worker-month panel: per registered worker and 30-day month, time online, paid
        time, earnings, tasks done and whether the worker was still registered at the month's
        end (see :func:`sim.results.panel.worker_months`)."""
        if self.sessions is None:
            raise StoreError("this result has no sessions table (saved by an older version); "
                             "run it again to get its panel")
        return worker_months(self.tasks, self.workers, self.sessions, self.horizon)

    @property
    def plot(self) -> RunPlots:
        """The run's standard figures, one call each: ``res.plot.lorenz()`` (see
        :class:`sim.presentation.accessors.RunPlots`)."""
        # the one allowed upward import (pyproject.toml), at call time: presentation imports
        # this module
        from sim.presentation import accessors  # noqa: PLC0415

        return accessors.RunPlots(self)

    def __repr__(self) -> str:
        gini = self.summary.get("earnings_gini", float("nan"))
        return (f"<RunResult {self.scenario.name!r} seed={self.seed} variant={self.variant!r} "
                f"replication={self.replication}: {len(self.tasks):,} tasks, "
                f"{len(self.workers):,} workers, earnings Gini {gini:.3f}>")

    def _repr_html_(self) -> str:
        """Headline and per-profile tables, for Jupyter."""
        from sim.presentation import accessors  # noqa: PLC0415 (see .plot)

        return accessors.run_html(self)

    def manifest(self) -> dict[str, Any]:
        """What was run, with which seed, code version and cost."""
        return {
            "scenario": self.scenario.to_dict(),
            "seed": self.seed,
            "variant": self.variant,
            "replication": self.replication,
            **provenance(),
            **self.stats,
        }

    def save(self, directory: str | Path) -> Path:
        """Write Parquet tables, ``summary.json`` and ``manifest.json`` atomically to a folder.

        Files go to a staging folder renamed into place at the end, so a crash never leaves a
        half-written result folder. An existing folder is replaced only if it is empty or a
        run folder microwork wrote (see :func:`sim.folders.check_replaceable`); otherwise
        StoreError.
        """
        return write_folder(directory, "run", self.write_into)

    def write_into(self, folder: Path) -> None:
        """Write the result files into an existing folder (used by :meth:`save`)."""
        for name in TABLES:
            table = getattr(self, name)
            if table is not None:
                table.to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "summary.json").write_text(json.dumps(self.summary, indent=2, default=float))
        write_manifest(folder, "run", self.manifest())


def load_result(directory: str | Path) -> RunResult:
    """Read a folder written by :meth:`RunResult.save` back into a :class:`RunResult`; a
    missing or damaged file raises StoreError naming it."""
    folder = Path(directory)
    manifest_file, summary_file = folder / MANIFEST_FILE, folder / "summary.json"
    manifest, summary = read_json(manifest_file), read_json(summary_file)
    if not isinstance(summary, dict):
        raise StoreError(f"{summary_file}: expected the run's summary (a JSON object), got "
                         f"{shown(summary)}")
    try:
        scenario = validate(manifest["scenario"])
        identity = {key: manifest[key] for key in ("seed", "variant", "replication")}
    except (KeyError, TypeError, ScenarioError) as exc:
        problem = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise StoreError(f"{manifest_file}: not the manifest of a run ({problem})") from None
    tables = {name: read_table(folder / f"{name}.parquet", pd.read_parquet) for name in TABLES
              if name in ("tasks", "workers") or (folder / f"{name}.parquet").exists()}
    stats_keys = ("wall_time", "events", "events_per_task", "polls")
    return RunResult(
        scenario=scenario,
        summary=summary,
        stats={k: manifest[k] for k in stats_keys if k in manifest},
        **identity,
        **tables,
    )
