"""Calibration against published figures: measures, reports and a fitting procedure.

A scenario's ``calibration`` section names the rows of ``calibration/targets.csv`` it targets
and how: ``input`` rows are figures the scenario sets directly (prices, caps, polling
intervals, profile shares) and are checked against the file; ``fitted`` rows are outcomes the
free parameters of ``fit`` stages are fitted to; ``held_out`` rows are outcomes nobody fits,
the honest test of the model. Every outcome is measured from the run's own tables by a named
measure below; nothing published is ever written into the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar

from sim.analysis.statistics import interval
from sim.experiments.design import Design, run_design
from sim.foundation.errors import ScenarioError, SpecError, shown
from sim.scenario.loading import in_context, override
from sim.scenario.paths import get_path
from sim.scenario.schema import Scenario

PACKAGED_TARGETS = "sim.data/targets.csv"
"""Name of the targets file shipped with the package, read when no other file is given."""


def input_value(scn: Scenario, spec: Any) -> float:
    """Value an ``input`` target reads from the scenario: the sum of its ``paths``, divided by
    the sum of its ``per`` paths when given (e.g. full-time CDI holders over all CDI holders)."""
    data = scn.to_dict()
    value = sum(float(get_path(data, p)) for p in spec.paths)
    return value / sum(float(get_path(data, p)) for p in spec.per) if spec.per else value


TARGET_COLUMNS = ("id", "market", "quantity", "value", "unit", "tolerance", "status", "source")
"""Columns of a targets file (see ``calibration/targets.csv``)."""


def load_targets(path: str | Path | None = None) -> pd.DataFrame:
    """Read the published targets (one row a figure) indexed by id: the file at ``path``, or
    the copy shipped with the package (``sim/data/targets.csv``, read with importlib.resources
    so that an installed wheel finds it).

    The file must be a CSV with the columns of :data:`TARGET_COLUMNS`, one non-empty, unique
    id per row, and numbers for ``value`` and ``tolerance`` (a tolerance of 0 or more);
    anything else raises SpecError naming the file and what is wrong."""
    source: Any = resources.files("sim.data").joinpath("targets.csv") if path is None \
        else Path(path)
    path = PACKAGED_TARGETS if path is None else Path(path)
    try:
        with source.open("rb") as handle:
            table = pd.read_csv(handle, dtype={"id": str})
    except (OSError, ValueError) as exc:
        why = "it is not text (UTF-8)" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise SpecError(f"{path}: not a targets CSV file ({why.strip() or 'empty'}); expected "
                        f"the columns {', '.join(TARGET_COLUMNS)}") from None
    missing = [c for c in TARGET_COLUMNS if c not in table.columns]
    if missing:
        raise SpecError(f"{path}: not a targets file: missing column(s) {', '.join(missing)} "
                        f"(it has {shown(list(table.columns))}); expected the columns "
                        f"{', '.join(TARGET_COLUMNS)}")
    ids = table["id"]
    if ids.isna().any() or ids.duplicated().any():
        bad = ids[ids.isna() | ids.duplicated()].iloc[0]
        what = "an empty id" if pd.isna(bad) else f"the id {bad!r} twice"
        raise SpecError(f"{path}: id: every row needs its own id; got {what}")
    for column in ("value", "tolerance"):
        numbers = pd.to_numeric(table[column], errors="coerce")
        wrong = numbers.isna() | (numbers < 0 if column == "tolerance" else False)
        if wrong.any():
            row = int(wrong.to_numpy().nonzero()[0][0])
            allowed = "a number of 0 or more" if column == "tolerance" else "a number"
            raise SpecError(f"{path}: {column} of {table['id'].iloc[row]!r} (row {row + 2}): "
                            f"expected {allowed}, got {shown(table[column].iloc[row])}")
        table[column] = numbers.astype(float)
    return table.set_index("id")


def check_targets(scn: Scenario, targets: pd.DataFrame, where: str = "the targets file"
                  ) -> None:
    """Raise SpecError unless every target the scenario's calibration section names (and
    every target of its fit stages) is a row of ``targets``."""
    if scn.calibration is None:
        raise SpecError(f"scenario {scn.name!r} has no calibration section")
    named = [*scn.calibration.targets, *(t for stage in scn.calibration.fit
                                         for t in stage.targets)]
    missing = sorted({t for t in named if t not in targets.index})
    if missing:
        raise SpecError(f"{where}: no row for the target(s) {shown(missing)} that scenario "
                        f"{scn.name!r} names in its calibration section")


def setting_scenarios(scn: Scenario, target_ids: Any = None) -> dict[str | None, Scenario]:
    """The scenario under each calibration setting that the targets ``target_ids`` (default:
    every target of the section) are measured under, keyed by setting name (None: the scenario
    as it is), in the order the targets name them. A setting that does not make a valid
    scenario raises ScenarioError naming ``calibration.settings.<name>``."""
    spec = scn.calibration
    ids = list(spec.targets) if target_ids is None else list(target_ids)
    out: dict[str | None, Scenario] = {}
    for tid in ids:
        name = spec.targets[tid].setting
        if name in out:
            continue
        if name is None:
            out[None] = scn
            continue
        try:
            out[name] = override(scn, dict(spec.settings[name]))
        except ScenarioError as exc:
            raise in_context(exc, f"calibration.settings.{name}") from None
    return out


def measured_ids(scn: Scenario, target_ids: Any = None) -> list[str]:
    """The targets among ``target_ids`` (default: all) measured from runs (not read from
    scenario paths)."""
    spec = scn.calibration
    ids = list(spec.targets) if target_ids is None else list(target_ids)
    return [t for t in ids if spec.targets[t].measure is not None]


def run_targets(
    scn: Scenario, target_ids: Any, replications: int, seed: int, processes: int | None,
    progress: bool, max_memory: float | str | None = None,
) -> pd.DataFrame:
    """One row per replication with a ``target.<id>`` column per measured target among
    ``target_ids``, each from the runs of the scenario under that target's setting (one set of
    paired replications per setting, the same seeds for every setting)."""
    ids = measured_ids(scn, target_ids)
    columns: dict[str, np.ndarray] = {}
    for name, trial in setting_scenarios(scn, ids).items():
        runs = run_replications(trial, replications, seed, processes, progress, max_memory)
        for tid in ids:
            if scn.calibration.targets[tid].setting == name:
                columns[f"target.{tid}"] = runs[f"target.{tid}"].to_numpy(float)
    return pd.DataFrame(columns, index=pd.RangeIndex(replications))


@dataclass
class CalibrationReport:
    """Per target: published value and band, simulated mean with its interval, verdict."""

    scenario: str
    table: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when every fitted and input target lies within its tolerance."""
        must = self.table[self.table["role"].isin(["fitted", "input"])]
        return bool(must["within"].all())

    def _repr_html_(self) -> str:
        """The verdict and one row per target, for Jupyter."""
        from sim.presentation import accessors  # noqa: PLC0415 (the allowed accessor import)

        return accessors.calibration_html(self)

    def plot(self, ax: Any = None) -> Any:
        """Simulated against published, one row per target (a matplotlib Figure)."""
        from sim.presentation import accessors  # noqa: PLC0415 (the allowed accessor import)

        return accessors.calibration_plot(self, ax)


def report(
    scn: Scenario,
    targets: pd.DataFrame,
    runs: pd.DataFrame,
    level: float = 0.95,
) -> CalibrationReport:
    """Build the report from the replication rows of the scenario (``target.<id>`` columns,
    see :func:`run_targets`)."""
    check_targets(scn, targets)
    rows = []
    for tid, spec in scn.calibration.targets.items():
        row = targets.loc[tid]
        if spec.role == "input" and spec.measure is None:
            mean = input_value(scn, spec)
            se = low = high = np.nan
        else:
            mean, se, low, high = interval(runs[f"target.{tid}"].to_numpy(float), level)
        value, tol = float(row["value"]), float(row["tolerance"])
        within = abs(mean - value) <= tol + 1e-9 * max(1.0, abs(value))
        rows.append({"id": tid, "quantity": row["quantity"], "role": spec.role,
                     "status": row["status"], "published": value, "unit": row["unit"],
                     "tolerance": tol, "simulated": mean, "se": se, "ci_low": low,
                     "ci_high": high, "within": bool(within),
                     "measure": spec.measure or "+".join(spec.paths), "source": row["source"]})
    order = {"fitted": 0, "held_out": 1, "input": 2}
    table = pd.DataFrame(rows).sort_values("role", key=lambda r: r.map(order), kind="stable")
    return CalibrationReport(scenario=scn.name, table=table.reset_index(drop=True))


def run_replications(
    scn: Scenario, replications: int, seed: int, processes: int | None, progress: bool,
    max_memory: float | str | None = None,
) -> pd.DataFrame:
    """Replication rows (summary plus ``target.*`` measures) of one scenario: a design of
    one point, run with paired seeds like every experiment (the same seeds at every
    evaluation of a fit)."""
    design = Design(scenario=lambda _: scn, parameters=(), points=[()], seed=seed,
                    spec={"kind": "calibration", "scenario": scn.to_dict(), "seed": seed},
                    label=lambda _: f"scenario {scn.name!r}")
    runs, _stats = run_design(design, replications, processes=processes, progress=progress,
                              max_memory=max_memory)
    return runs


def calibrate(
    scn: Scenario,
    targets: pd.DataFrame | None = None,
    replications: int | None = None,
    seed: int | None = None,
    processes: int | None = None,
    progress: bool = True,
    max_memory: float | str | None = None,
) -> CalibrationReport:
    """Run the scenario's replications (under each calibration setting its targets name) and
    compare every target it names with the file (``max_memory``: see :func:`sim.run`)."""
    targets = load_targets() if targets is None else targets
    check_targets(scn, targets)  # before running anything
    setting_scenarios(scn)
    spec = scn.calibration
    runs = run_targets(scn, spec.targets, replications or spec.replications, seed or spec.seed,
                       processes, progress, max_memory)
    return report(scn, targets, runs)


def fit(
    scn: Scenario,
    targets: pd.DataFrame | None = None,
    processes: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    max_memory: float | str | None = None,
) -> tuple[Scenario, dict[str, float]]:
    """Fit the free parameters of each ``calibration.fit`` stage, in order, to its targets.

    Each stage minimises the sum of squared standardised errors ((simulated mean - published)
    / tolerance)^2 over its targets, each measured under its calibration setting (if any),
    with the same seeds at every evaluation (common random
    numbers keep the objective nearly smooth: a bounded scalar search for
    one parameter; Powell's line searches for several, which cope with the small jumps of a
    simulated objective better than a simplex). Returns the fitted scenario and the fitted
    value of each parameter by name.
    """
    targets = load_targets() if targets is None else targets
    check_targets(scn, targets)  # before running anything
    setting_scenarios(scn)
    spec = scn.calibration
    fitted: dict[str, float] = {}

    def changes(values: dict[str, float]) -> dict[str, float]:
        return {path: x for name, v in values.items()
                for stage in spec.fit if name in stage.parameters
                for path, x in stage.parameters[name].written(v).items()}

    for k, stage in enumerate(spec.fit):
        names = list(stage.parameters)
        params = [stage.parameters[n] for n in names]
        # the optimiser works on x = value, or log10(value) for log-scale parameters
        to_x = [np.log10 if p.log else float for p in params]
        from_x = [(lambda x: 10.0**x) if p.log else float for p in params]
        bounds = [(f(p.bounds[0]), f(p.bounds[1])) for f, p in zip(to_x, params, strict=True)]

        def objective(
            x: np.ndarray, stage: Any = stage, names: list[str] = names, k: int = k,
            from_x: list[Callable[[float], float]] = from_x,
        ) -> float:
            point = {n: f(float(v))
                     for n, f, v in zip(names, from_x, np.atleast_1d(x), strict=True)}
            trial = override(scn, changes({**fitted, **point}))
            runs = run_targets(trial, stage.targets, stage.replications or spec.replications,
                               spec.seed, processes, progress, max_memory)
            err = sum(((runs[f"target.{t}"].mean() - targets.loc[t, "value"])
                       / targets.loc[t, "tolerance"]) ** 2 for t in stage.targets)
            if log:
                log(f"stage {k + 1}: {point} -> objective {err:.4g}")
            return float(err)

        if len(names) == 1:
            best = minimize_scalar(objective, bounds=tuple(bounds[0]), method="bounded",
                                   options={"xatol": stage.tolerance, "maxiter": stage.max_evals})
            values = [best.x]
        else:
            data = scn.to_dict()
            start = [min(max(f(p.current(data)), lo), hi)
                     for f, p, (lo, hi) in zip(to_x, params, bounds, strict=True)]
            best = minimize(objective, start, method="Powell", bounds=bounds,
                            options={"xtol": stage.tolerance, "ftol": 1e-3,
                                     "maxfev": stage.max_evals})
            values = list(best.x)
        fitted.update({n: round(f(float(v)), 6)
                       for n, f, v in zip(names, from_x, values, strict=True)})
    return override(scn, changes(fitted)), fitted
