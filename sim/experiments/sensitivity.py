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
from typing import Annotated, Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from sim.experiments.design import check_seed, run_design, whole
from sim.experiments.specs import Count, ExperimentSpec, Number, Seed, validated
from sim.experiments.sweep import check_metrics, point_design
from sim.foundation.errors import SpecError, shown
from sim.foundation.streams import Streams
from sim.results.dataset import write_runs
from sim.results.storage import provenance, write_folder, write_manifest
from sim.scenario.loading import load_scenario
from sim.scenario.paths import expand_path, get_path
from sim.scenario.schema import Scenario

METHODS = ("sobol", "morris")
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


def _paths(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(p, str) and p.strip() for p in items):
        raise SpecError(f"expected a dotted scenario path or a list of them, got {shown(value)}")
    return tuple(p.strip() for p in items)


def _ordered(bounds: tuple[float, float]) -> tuple[float, float]:
    if not bounds[0] < bounds[1]:
        raise SpecError(f"expected [low, high] with low < high, got {shown(list(bounds))}")
    return bounds


Paths = Annotated[tuple[str, ...], BeforeValidator(_paths)]
Bounds = Annotated[tuple[Number, Number], AfterValidator(_ordered)]


class ParameterSpec(BaseModel):
    """One parameter of a problem as written: the paths it sets or scales (exactly
    one of the two), its ``bounds`` and whether it is sampled on a ``log`` scale and rounded
    to an ``integer``."""

    model_config = ConfigDict(extra="forbid")

    set: Paths | None = None
    scale: Paths | None = None
    bounds: Bounds
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.set is None) == (self.scale is None):
            raise SpecError("give exactly one of 'set' (write the value at the paths) or "
                            "'scale' (multiply the paths' values by it)")
        if self.log and self.bounds[0] <= 0:
            raise SpecError(f"a log-scale parameter needs positive bounds, got "
                            f"{shown(list(self.bounds))}")
        return self


def _parameter(name: str, entry: Any, data: dict[str, Any], used: dict[str, str]) -> Parameter:
    """Parameter ``name`` of a problem (``entry`` as written) in the scenario dict ``data``;
    ``used`` maps each path already changed to its parameter."""
    where = f"problem.{name}"
    if isinstance(entry, list | tuple):
        entry = {"set": name, "bounds": list(entry)}
    spec = validated(ParameterSpec, entry, where)
    kind = "set" if spec.set is not None else "scale"
    paths: list[str] = []
    for path in getattr(spec, kind):
        expanded = expand_path(path, data)
        if not expanded:
            raise SpecError(f"{where}.{kind}: {path!r} matches no numeric field of the "
                            "scenario")
        paths += expanded
    base: list[float] = []
    for path in paths if kind == "scale" else []:
        try:
            value = get_path(data, path)
        except KeyError:
            raise SpecError(f"{where}.scale: no field {path!r} in the scenario") from None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise SpecError(f"{where}.scale: {path!r} holds {shown(value)}, not a number that "
                            "can be scaled")
        base.append(float(value))
    for path in paths:
        if path in used:
            raise SpecError(f"{where}: {path!r} is already changed by parameter "
                            f"{used[path]!r}; each path may belong to one parameter")
        used[path] = name
    low, high = spec.bounds
    return Parameter(name=name, low=float(low), high=float(high),
                     **{kind: tuple(paths)}, base=tuple(base), log=spec.log,
                     integer=spec.integer)


def parse_problem(problem: Mapping[str, Any], base: Scenario) -> list[Parameter]:
    """Check a problem against the base scenario and return its parameters; errors
    (SpecError) name the parameter, the value and what is allowed."""
    if not isinstance(problem, Mapping) or not problem:
        raise SpecError(
            "problem: expected a mapping of parameter names to {set or scale: PATHS, bounds: "
            f"[low, high]}} (or PATH: [low, high]), got {shown(problem)}")
    data = base.to_dict()
    used: dict[str, str] = {}
    return [_parameter(str(name), entry, data, used) for name, entry in problem.items()]


def check_sampling(method: Any, n: Any) -> int:
    """Check a sampling ``method`` and its size ``n`` (Sobol': a power of 2); return ``n``."""
    if method not in METHODS:
        raise SpecError(f"method: got {shown(method)}; allowed: {', '.join(METHODS)}")
    n = whole(n, "n", 2)
    if method == "sobol" and n & (n - 1):
        raise SpecError(f"n: got {n}; Sobol' sampling needs a power of 2 (e.g. 32, 64, 128) "
                        "to keep the sequence balanced")
    return n


def salib_problem(parameters: Sequence[Parameter]) -> dict[str, Any]:
    """The SALib problem dict of ``parameters``."""
    return {"num_vars": len(parameters), "names": [p.name for p in parameters],
            "bounds": [p.salib_bounds for p in parameters]}


def sample(parameters: Sequence[Parameter], method: str, n: int, seed: int,
           second_order: bool = False, levels: int = 4) -> np.ndarray:
    """SALib's sample matrix (one row per point, in SALib's space) for ``method``: Saltelli's
    scheme for Sobol' (``n * (D + 2)`` rows, ``n * (2D + 2)`` with second order) or ``n``
    Morris trajectories (``n * (D + 1)`` rows); drawn from the experiment seed's own stream."""
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
        folder atomically (see :func:`sim.results.storage.staged_folder`: an existing folder is
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
    n = check_sampling(method, n)
    replications = whole(replications, "replications", 1)
    seed = check_seed(seed)
    levels = whole(levels, "levels", 2)
    outputs = check_metrics(list(outputs), base, "outputs")
    parameters = parse_problem(problem, base)
    x = sample(parameters, method, n, seed, second_order, levels)
    values = [[p.value(v) for p, v in zip(parameters, row, strict=True)] for row in x]
    paths = [path for p in parameters for path in p.paths]
    changes = [[c for p, v in zip(parameters, row, strict=True)
                for c in p.changes(v).values()] for row in values]
    names = [p.name for p in parameters]
    spec = {"kind": "sensitivity", "scenario": base.to_dict(), "method": method, "n": n,
            "second_order": second_order, "levels": levels, "seed": seed,
            "parameters": names, "points": values, "paths": paths}
    design = point_design(base, paths, changes, seed, spec, "sample point", names, values)
    runs, stats = run_design(design, replications, executor=executor, processes=processes,
                             store=store, progress=progress, repair=repair,
                             max_memory=max_memory)
    result = SensitivityResult(method=method, parameters=parameters, outputs=outputs, x=x,
                               runs=runs, indices=pd.DataFrame(columns=INDEX_COLUMNS),
                               scenario=base, seed=seed, n=n, second_order=second_order,
                               levels=levels, level=level, stats=stats)
    result.indices = result.analyze()
    return result


# --------------------------------------------------------------------------- spec files


class SensitivitySpec(ExperimentSpec):
    """A sensitivity spec (``scenarios/sweeps/``): ``scenario``, optional ``overrides``,
    ``problem`` and ``outputs`` (see :func:`sensitivity`) and optionally ``method`` (sobol or
    morris), ``n``, ``replications`` (default 1), ``seed``, ``second_order``, ``levels``
    (Morris grid levels) and ``processes``."""

    KIND: ClassVar[str] = "sensitivity"
    NULL_IS_DEFAULT: ClassVar[tuple[str, ...]] = ("replications", "seed")

    problem: dict[str, Any]
    outputs: list[str]
    method: str = "sobol"
    n: Annotated[int, Field(strict=True, ge=2)] = 64
    replications: Count = 1
    seed: Seed = 1
    second_order: StrictBool = False
    levels: Annotated[int, Field(strict=True, ge=2)] = 4
    processes: Count | None = None

    def check(self) -> None:
        """The sampling method and size, the problem and the outputs against the scenario."""
        check_sampling(self.method, self.n)
        parse_problem(self.problem, self.scenario)
        self.outputs = check_metrics(self.outputs, self.scenario, "outputs")


def load_sensitivity_spec(source: str | Path) -> SensitivitySpec:
    """Read and check a sensitivity spec file (see :class:`SensitivitySpec`)."""
    return SensitivitySpec.load(source)
