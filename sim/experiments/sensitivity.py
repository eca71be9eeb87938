"""Global sensitivity analysis with SALib: Sobol' indices (Saltelli sampling) or Morris
elementary effects, over scenario parameters mapped to dotted paths.

A *problem* maps each parameter name to what it changes and its range::

    {"requesters.batches_per_day": [100, 300]}            # shorthand: set that path
    {"reaction": {"scale": ["profiles.*.discovery.*.reaction.mean"], "bounds": [0.25, 4],
                  "log": True}}

- ``set: PATH or [PATHS]``: the sampled value is written at each path;
- ``scale: PATH or [PATHS]``: each path's value in the base scenario is multiplied by the
  sampled factor (e.g. every profile's ``reservation_pay.median``);
- ``bounds: [low, high]``: the range, sampled uniformly; with ``log: true`` uniformly on a log
  scale (for factors such as 0.25..4), and the indices refer to the log of the parameter;
- ``integer: true``: the value is rounded to a whole number (e.g. a daily cap).

A ``*`` in a path stands for every key (or list index) at that level that exists in the base
scenario and holds a number at the end of the path, e.g. ``profiles.*.sessions.*.duration.median``.

Every sample point is run with the same replication seeds (common random numbers), so the
model is a deterministic function of the parameters for each replication and a parameter that
changes nothing gets an index of exactly zero; the output per point is the mean over
replications. Confidence intervals of the indices come from SALib's bootstrap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.sweep import (
    _whole,
    check_metrics,
    point_scenarios,
    read_spec,
    run_design,
    write_runs,
)
from sim.foundation.checks import check_seed
from sim.foundation.errors import ScenarioError
from sim.foundation.streams import Streams
from sim.results.run_result import provenance
from sim.results.storage import write_folder, write_manifest
from sim.scenario import size
from sim.scenario.loading import load_scenario
from sim.scenario.schema import Scenario

METHODS = ("sobol", "morris")
PARAMETER_KEYS = ("set", "scale", "bounds", "log", "integer")
SENSITIVITY_SPEC_KEYS = ("scenario", "overrides", "problem", "method", "n", "outputs",
                         "replications", "seed", "second_order", "levels", "processes")
"""Keys of a sensitivity spec file (see ``scenarios/sweeps/``)."""
INDEX_COLUMNS = ["output", "parameter", "index", "value", "conf", "ci_low", "ci_high"]
RESAMPLES = 1000
"""Bootstrap resamples for the confidence intervals of the indices."""


@dataclass(frozen=True)
class Parameter:
    """One input of a sensitivity analysis: its name, range and the paths it sets or scales
    (``base`` holds the base scenario's value of each scaled path)."""

    name: str
    low: float
    high: float
    set: tuple[str, ...] = ()
    scale: tuple[str, ...] = ()
    base: tuple[float, ...] = ()
    log: bool = False
    integer: bool = False

    @property
    def salib_bounds(self) -> list[float]:
        """Bounds in the space SALib samples (the log of the bounds when ``log``)."""
        if self.log:
            return [math.log(self.low), math.log(self.high)]
        return [self.low, self.high]

    def value(self, x: float) -> float | int:
        """The parameter's value for SALib's sample ``x``."""
        v = math.exp(x) if self.log else float(x)
        return round(v) if self.integer else v

    def changes(self, value: float) -> dict[str, Any]:
        """The dotted-path overrides that put the parameter at ``value``."""
        out: dict[str, Any] = dict.fromkeys(self.set, value)
        out.update({p: b * value for p, b in zip(self.scale, self.base, strict=True)})
        return out

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the parameter changes."""
        return (*self.set, *self.scale)


def _lookup(data: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise KeyError(part)
    return data


def expand_path(path: str, data: dict[str, Any]) -> list[str]:
    """The concrete paths a path with ``*`` wildcards stands for in the scenario dict ``data``:
    those that exist and hold a number (a path without ``*`` is returned as it is)."""
    if "*" not in path.split("."):
        return [path]
    found: list[str] = []

    def walk(node: Any, parts: list[str], done: list[str]) -> None:
        if not parts:
            if isinstance(node, int | float) and not isinstance(node, bool):
                found.append(".".join(done))
            return
        head, rest = parts[0], parts[1:]
        if head == "*":
            keys = [str(i) for i in range(len(node))] if isinstance(node, list) else \
                list(node) if isinstance(node, dict) else []
        else:
            keys = [head]
        for key in keys:
            try:
                child = _lookup(node, [key])
            except KeyError:
                continue
            walk(child, rest, [*done, key])

    walk(data, path.split("."), [])
    return found


def _paths(value: Any, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(p, str) and p.strip() for p in items):
        raise ScenarioError(f"{where}: expected a dotted scenario path or a list of them, "
                            f"got {value!r}")
    return [p.strip() for p in items]


def parse_problem(problem: Mapping[str, Any], base: Scenario) -> list[Parameter]:
    """Check a problem against the base scenario and return its parameters; errors name the
    parameter, the value and what is allowed."""
    if not isinstance(problem, Mapping) or not problem:
        raise ScenarioError(
            "problem: expected a mapping of parameter names to {set or scale: PATHS, bounds: "
            f"[low, high]}} (or PATH: [low, high]), got {problem!r}")
    data = base.to_dict()
    params, used = [], {}
    for name, entry in problem.items():
        where = f"problem.{name}"
        if isinstance(entry, list | tuple):
            entry = {"set": name, "bounds": list(entry)}
        if not isinstance(entry, Mapping):
            raise ScenarioError(f"{where}: expected [low, high] or a mapping with keys "
                                f"{', '.join(PARAMETER_KEYS)}, got {entry!r}")
        unknown = sorted(set(entry) - set(PARAMETER_KEYS))
        if unknown:
            raise ScenarioError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                                f"allowed: {', '.join(PARAMETER_KEYS)}")
        if ("set" in entry) == ("scale" in entry):
            raise ScenarioError(f"{where}: give exactly one of 'set' (write the value at the "
                                "paths) or 'scale' (multiply the paths' values by it)")
        bounds = entry.get("bounds")
        if not (isinstance(bounds, list | tuple) and len(bounds) == 2 and all(
                isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
                and bounds[0] < bounds[1]):
            raise ScenarioError(f"{where}.bounds: expected [low, high] with low < high, "
                                f"got {bounds!r}")
        log, integer = bool(entry.get("log", False)), bool(entry.get("integer", False))
        if log and bounds[0] <= 0:
            raise ScenarioError(f"{where}.bounds: a log-scale parameter needs positive bounds, "
                                f"got {list(bounds)!r}")
        kind = "set" if "set" in entry else "scale"
        paths: list[str] = []
        for path in _paths(entry[kind], f"{where}.{kind}"):
            expanded = expand_path(path, data)
            if not expanded:
                raise ScenarioError(f"{where}.{kind}: {path!r} matches no numeric field of the "
                                    "scenario")
            paths += expanded
        base_values: list[float] = []
        if kind == "scale":
            for path in paths:
                try:
                    value = _lookup(data, path.split("."))
                except KeyError:
                    raise ScenarioError(f"{where}.scale: no field {path!r} in the scenario"
                                        ) from None
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ScenarioError(f"{where}.scale: {path!r} holds {value!r}, not a "
                                        "number that can be scaled")
                base_values.append(float(value))
        for path in paths:
            if path in used:
                raise ScenarioError(f"{where}: {path!r} is already changed by parameter "
                                    f"{used[path]!r}; each path may belong to one parameter")
            used[path] = name
        params.append(Parameter(
            name=str(name), low=float(bounds[0]), high=float(bounds[1]),
            set=tuple(paths) if kind == "set" else (), scale=tuple(paths) if kind == "scale"
            else (), base=tuple(base_values), log=log, integer=integer))
    return params


def salib_problem(parameters: Sequence[Parameter]) -> dict[str, Any]:
    """The SALib problem dict of ``parameters``."""
    return {"num_vars": len(parameters), "names": [p.name for p in parameters],
            "bounds": [p.salib_bounds for p in parameters]}


def sample(parameters: Sequence[Parameter], method: str, n: int, seed: int,
           second_order: bool = False, levels: int = 4) -> np.ndarray:
    """SALib's sample matrix (one row per point, in SALib's space) for ``method``: Saltelli's
    scheme for Sobol' (``n * (D + 2)`` rows, ``n * (2D + 2)`` with second order) or ``n``
    Morris trajectories (``n * (D + 1)`` rows); drawn from the experiment seed's own stream."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = salib_problem(parameters)
    rng = Streams(seed).rng("sensitivity-sample")
    if method == "sobol":
        return sobol_sample.sample(problem, n, calc_second_order=second_order, seed=rng)
    return morris_sample.sample(problem, n, num_levels=levels, seed=rng)


def analyze(parameters: Sequence[Parameter], method: str, x: np.ndarray, y: np.ndarray,
            seed: int, *, second_order: bool = False, levels: int = 4, level: float = 0.95,
            output: str = "y") -> pd.DataFrame:
    """Indices of one output ``y`` (one value per row of ``x``) as a tidy table: ``output,
    parameter, index, value, conf, ci_low, ci_high`` (``conf`` is the half-width of SALib's
    bootstrap interval at ``level``). Sobol': S1, ST (and S2 for pairs ``a:b``); Morris: mu,
    mu_star (with interval), sigma. Undefined outputs (NaN runs, no variance) give NaN."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    problem = salib_problem(parameters)
    names = problem["names"]
    rows: list[dict[str, Any]] = []

    def add(parameter: str, index: str, value: float, conf: float = np.nan) -> None:
        rows.append({"output": output, "parameter": parameter, "index": index,
                     "value": float(value), "conf": float(conf),
                     "ci_low": float(value - conf), "ci_high": float(value + conf)})

    indices = (["S1", "ST"] if method == "sobol" else ["mu", "mu_star", "sigma"])
    if not np.all(np.isfinite(y)) or np.var(y) == 0:
        why = "some runs give NaN" if not np.all(np.isfinite(y)) else "it does not vary"
        warnings.warn(f"sensitivity: no indices for output {output!r}: {why}", stacklevel=3)
        for name in names:
            for index in indices:
                add(name, index, np.nan)
        return pd.DataFrame(rows, columns=INDEX_COLUMNS)
    rng = Streams(seed).rng(f"sensitivity-bootstrap:{output}")
    if method == "sobol":
        res = sobol_analyze.analyze(problem, y, calc_second_order=second_order,
                                    num_resamples=RESAMPLES, conf_level=level, seed=rng)
        for i, name in enumerate(names):
            add(name, "S1", res["S1"][i], res["S1_conf"][i])
            add(name, "ST", res["ST"][i], res["ST_conf"][i])
        if second_order:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    add(f"{names[i]}:{names[j]}", "S2", res["S2"][i, j], res["S2_conf"][i, j])
    else:
        res = morris_analyze.analyze(problem, x, y, num_resamples=RESAMPLES, conf_level=level,
                                     num_levels=levels, seed=rng)
        for i, name in enumerate(names):
            add(name, "mu", res["mu"][i])
            add(name, "mu_star", res["mu_star"][i], res["mu_star_conf"][i])
            add(name, "sigma", res["sigma"][i])
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


@dataclass
class SensitivityResult:
    """Results of :func:`sensitivity`: the sample, one row per run, and the tidy table of
    indices with confidence intervals (one row per output, parameter and index)."""

    method: str
    parameters: list[Parameter]
    outputs: list[str]
    x: np.ndarray
    runs: pd.DataFrame
    indices: pd.DataFrame
    scenario: Scenario
    seed: int = 1
    n: int = 0
    second_order: bool = False
    levels: int = 4
    level: float = 0.95
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Parameter names, in problem order."""
        return [p.name for p in self.parameters]

    @property
    def samples(self) -> pd.DataFrame:
        """One row per sample point: ``point`` and each parameter's value."""
        return self.runs.drop_duplicates("point")[["point", *self.names]].reset_index(drop=True)

    def outcome(self, output: str) -> np.ndarray:
        """Per sample point, the mean of ``output`` over replications (what is analysed)."""
        means = self.runs.groupby("point", sort=True)[output].mean()
        return means.reindex(range(len(self.x))).to_numpy(float)

    def analyze(self, outputs: Sequence[str] | None = None) -> pd.DataFrame:
        """Indices of ``outputs`` (default: the analysis' outputs), recomputed from the runs
        (any summary metric may be analysed without running anything again)."""
        outputs = list(outputs or self.outputs)
        frames = [analyze(self.parameters, self.method, self.x, self.outcome(o), self.seed,
                          second_order=self.second_order, levels=self.levels, level=self.level,
                          output=o) for o in outputs]
        return pd.concat(frames, ignore_index=True)

    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write ``indices.csv``, ``runs.parquet``, ``points.json`` and ``manifest.json`` to a
        folder atomically (see :func:`sim.folders.staged_folder`: an existing folder is
        replaced only if it is empty or a sensitivity folder microwork wrote)."""
        return write_folder(directory, "sensitivity",
                            lambda folder: self.write_into(folder, extra))

    def write_into(self, folder: Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the result files into an existing folder (see :meth:`save`)."""
        write_runs(folder, self.runs, self.names, [[p.value(v) for p, v in
                                                    zip(self.parameters, row, strict=True)]
                                                   for row in self.x])
        self.indices.to_csv(folder / "indices.csv", index=False)
        manifest = {"method": self.method, "n": self.n,
                    "problem": {p.name: {"set" if p.set else "scale": list(p.paths),
                                         "bounds": [p.low, p.high], "log": p.log,
                                         "integer": p.integer} for p in self.parameters},
                    "outputs": self.outputs, "second_order": self.second_order,
                    "levels": self.levels, "scenario": self.scenario.to_dict(),
                    "replications": int(self.runs["replication"].nunique()), "seed": self.seed,
                    "level": self.level, **provenance(), **self.stats, **(extra or {})}
        write_manifest(folder, "sensitivity", manifest)


def sensitivity(
    scenario: Scenario | dict[str, Any] | str,
    problem: Mapping[str, Any],
    method: str = "sobol",
    n: int = 64,
    outputs: Sequence[str] = ("earnings_gini", "claim_latency_mean", "hourly_effective_median"),
    *,
    replications: int = 1,
    seed: int = 1,
    second_order: bool = False,
    levels: int = 4,
    executor: Any = None,
    processes: int | None = None,
    store: str | Path | None = None,
    progress: bool = True,
    level: float = 0.95,
    repair: bool = False,
    max_memory: float | str | None = None,
) -> SensitivityResult:
    """Sample ``problem`` with SALib (``method`` "sobol": ``n`` a power of 2, ``n * (D + 2)``
    points; "morris": ``n`` trajectories of ``D + 1`` points), run each point ``replications`` times
    with common seeds on ``executor``, streaming runs to ``store`` (resumable, as in
    :func:`sim.experiments.sweep`; ``repair`` deletes damaged run files found there and computes
    those runs again), and return the indices of ``outputs`` with intervals.
    """
    base = load_scenario(scenario)
    if method not in METHODS:
        raise ScenarioError(f"method: got {method!r}; allowed: {', '.join(METHODS)}")
    n = _whole(n, "n", 2)
    if method == "sobol" and n & (n - 1):
        raise ScenarioError(f"n: got {n}; Sobol' sampling needs a power of 2 (e.g. 32, 64, "
                            "128) to keep the sequence balanced")
    replications = _whole(replications, "replications", 1)
    seed = check_seed(seed)
    levels = _whole(levels, "levels", 2)
    outputs = check_metrics(list(outputs), base, "outputs")
    parameters = parse_problem(problem, base)
    x = sample(parameters, method, n, seed, second_order, levels)
    values = [[p.value(v) for p, v in zip(parameters, row, strict=True)] for row in x]

    paths = [path for p in parameters for path in p.paths]
    points_changes = [[c for p, v in zip(parameters, row, strict=True)
                       for c in p.changes(v).values()] for row in values]
    limit = size.parse_memory(max_memory) / size.GIB
    make = point_scenarios(base, paths, points_changes, what="sample point", max_memory=limit)
    spec = {"kind": "sensitivity", "scenario": base.to_dict(), "method": method, "n": n,
            "second_order": second_order, "levels": levels, "seed": seed,
            "parameters": [p.name for p in parameters], "points": values,
            "paths": paths}
    runs, stats = run_design(make, len(values), replications, seed, spec=spec,
                             parameters=[p.name for p in parameters], points=values,
                             executor=executor, processes=processes, store=store,
                             progress=progress, repair=repair, max_memory=limit)
    result = SensitivityResult(method=method, parameters=parameters, outputs=outputs, x=x,
                               runs=runs, indices=pd.DataFrame(columns=INDEX_COLUMNS),
                               scenario=base, seed=seed, n=n, second_order=second_order,
                               levels=levels, level=level, stats=stats)
    result.indices = result.analyze()
    return result


@dataclass
class SensitivitySpec:
    """A sensitivity analysis as read from a spec file (see ``scenarios/sweeps/``)."""

    name: str
    scenario: Scenario
    problem: dict[str, Any]
    method: str = "sobol"
    n: int = 64
    outputs: list[str] = field(default_factory=list)
    replications: int = 1
    seed: int = 1
    second_order: bool = False
    levels: int = 4
    processes: int | None = None


def load_sensitivity_spec(source: str | Path) -> SensitivitySpec:
    """Read and check a sensitivity spec: ``scenario``, optional ``overrides``, ``problem``,
    ``outputs`` and optionally ``method``, ``n``, ``replications``, ``seed``,
    ``second_order``, ``levels`` (Morris), ``processes``."""
    data, scenario = read_spec(source, SENSITIVITY_SPEC_KEYS, ("scenario", "problem", "outputs"),
                               "sensitivity")
    where = str(source)
    method = data.get("method", "sobol")
    try:
        if method not in METHODS:
            raise ScenarioError(f"method: got {method!r}; allowed: {', '.join(METHODS)}")
        parse_problem(data["problem"], scenario)
        outputs = check_metrics(data["outputs"], scenario, "outputs")
        n = _whole(data.get("n", 64), "n", 2)
        if method == "sobol" and n & (n - 1):
            raise ScenarioError(f"n: got {n}; Sobol' sampling needs a power of 2")
        levels = _whole(data.get("levels", 4), "levels", 2)
        second = data.get("second_order", False)
        if not isinstance(second, bool):
            raise ScenarioError(f"second_order: expected true or false, got {second!r}")
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return SensitivitySpec(name=Path(source).stem, scenario=scenario, problem=data["problem"],
                           method=method, n=n, outputs=outputs,
                           replications=data.get("replications") or 1,
                           seed=1 if data.get("seed") is None else data["seed"],
                           second_order=second, levels=levels, processes=data.get("processes"))

