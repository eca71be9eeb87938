"""Comparisons: named variants of a scenario, run over paired replications, with intervals of
every metric and of every variant's paired difference to a baseline.

Replication ``r`` of every variant runs with the same seed, hence the same workers and the same
task arrivals (common random numbers): differences between variants are paired, and their
intervals are computed on the paired differences (:mod:`sim.analysis.statistics`). The variants
are the points of a :class:`~sim.experiments.design.Design`: the runs go to an executor and are
streamed to a run dataset, so that an interrupted comparison resumes where it stopped, as sweeps
and sensitivity analyses do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, PrivateAttr

from sim.analysis.metrics import SUMMARY_KEYS, claim_latency, summary_keys
from sim.analysis.statistics import interval_table, paired_table
from sim.experiments.design import CancelHook, Design, DesignRun, ProgressHook, check_seed, whole
from sim.experiments.specs import (
    Count,
    ExperimentSpec,
    Overrides,
    Seed,
    Target,
    VariantName,
    validated,
)
from sim.foundation.errors import SpecError
from sim.results.storage import provenance, write_folder, write_manifest
from sim.scenario.loading import load_scenario, override
from sim.scenario.schema import Scenario
from sim.scenario.yaml_io import read_yaml

if TYPE_CHECKING:
    from sim.presentation.accessors import ComparisonPlots

IDENTITY = ["variant", "replication", "seed"]
"""Identity columns of a comparison's runs table."""
EARNINGS_TABLE = "workers"
"""The run table a comparison keeps for replication 0 of each variant: its earnings draw the
Lorenz overlay."""
LATENCY_TABLE = "tasks"
"""The run table ``compare(latencies=True)`` keeps too: its claim latencies draw the
latency distributions of the variants."""


@dataclass
class Comparison:
    """Results of :func:`compare`: one row per run plus interval tables built from them."""

    runs: pd.DataFrame
    baseline: str
    variants: dict[str, dict[str, Any]]
    earnings: dict[str, list[float]] = field(default_factory=dict)  # replication 0 per variant
    level: float = 0.95
    stats: dict[str, Any] = field(default_factory=dict)
    """How the runs were obtained (see :attr:`sim.experiments.design.DesignRun.stats`):
    executor, runs computed, runs resumed from the state, wall and compute time."""
    baselines: dict[str, str] = field(default_factory=dict)
    """Each variant's own baseline when they differ (with ``supply="both"``, each variant
    is compared with the baseline run with the same supply); empty: ``baseline`` for all."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Claim latencies (seconds) of the claimed tasks of replication 0 per variant, kept by
    ``compare(latencies=True)`` (empty otherwise)."""

    def __repr__(self) -> str:
        reps = self.runs["replication"].nunique() if len(self.runs) else 0
        return (f"<Comparison of {len(self.variants)} variants x {reps} replications, "
                f"baseline {self.baseline!r}: {', '.join(self.variants)}>")

    def _repr_html_(self) -> str:
        """Headline metrics per variant with intervals and paired differences, for Jupyter."""
        from sim.presentation import accessors  # noqa: PLC0415 (the allowed accessor import)

        return accessors.comparison_html(self)

    @property
    def plot(self) -> ComparisonPlots:
        """The comparison's figures, one call each: ``cmp.plot.tradeoff()`` (see
        :class:`sim.presentation.accessors.ComparisonPlots`)."""
        from sim.presentation import accessors  # noqa: PLC0415 (the allowed accessor import)

        return accessors.ComparisonPlots(self)

    def baseline_of(self, variant: str) -> str:
        """The variant ``variant`` is compared with (itself for a baseline)."""
        return self.baselines.get(variant, self.baseline)

    @property
    def baseline_names(self) -> list[str]:
        """The baselines, in variant order: one, or one per labour supply (``supply="both"``)."""
        return list(dict.fromkeys(self.baseline_of(v) for v in self.variants))

    def is_baseline(self, variant: str) -> bool:
        """Whether ``variant`` is a baseline (with ``supply="both"`` there is one per supply)."""
        return self.baseline_of(variant) == variant

    @property
    def metrics(self) -> list[str]:
        """Summary metrics available for every run."""
        return [c for c in self.runs.columns if c not in IDENTITY]

    def table(self, metrics: Iterable[str] | None = None) -> pd.DataFrame:
        """Per variant and metric: mean over replications, standard error and its interval."""
        return interval_table(self.runs, "variant", list(metrics or self.metrics), self.level)

    def paired(self, baseline: str | None = None, metrics: Iterable[str] | None = None
               ) -> pd.DataFrame:
        """Per variant and metric: mean difference to ``baseline`` over paired replications,
        its interval and the paired t-test p-value; the unpaired (Welch) interval of the same
        difference is given alongside to show what common random numbers buy."""
        if baseline is None and self.baselines:
            own: str | dict[str, str] = self.baselines
        else:
            own = baseline or self.baseline
            if own not in self.variants:
                raise ValueError(f"unknown baseline {own!r}; variants: {list(self.variants)}")
        return paired_table(self.runs, own, list(self.variants), list(metrics or self.metrics),
                            self.level)


def compare(
    scenario: Scenario | dict[str, Any] | str,
    variants: Mapping[str, Mapping[str, Any]],
    replications: int = 20,
    seed: int = 1,
    processes: int | None = None,
    *,
    baseline: str | None = None,
    state_dir: str | Path | None = None,
    progress: bool | ProgressHook = True,
    target: Mapping[str, Any] | None = None,
    executor: Any = None,
    repair: bool = False,
    max_memory: float | str | None = None,
    supply: str | None = None,
    cancel: CancelHook | None = None,
    latencies: bool = False,
) -> Comparison:
    """Run every variant ``replications`` times with paired seeds and return a Comparison.

    ``variants`` maps a name to dotted-path overrides of ``scenario``. Runs go to ``executor`` (see
    :mod:`sim.experiments.executors`: ``"local"`` pool by default, ``"inprocess"``, ``"dask"``, a
    scheduler address or a Dask ``Client``); ``processes`` sizes the local pool and defaults to the
    number of cores (1 runs in this process). With ``state_dir`` every finished run is written to
    that run dataset (see :class:`~sim.experiments.design.DesignRun`) and a later call with the same
    arguments skips the runs already done; a damaged run file found there raises StoreError, unless
    ``repair`` (then it is deleted and its run computed again).
    ``target={"metric": "earnings_gini", "half_width": 0.002, "max_replications": 100}`` adds
    replications until every variant's paired-difference interval of that metric (its own interval
    for the baseline) is at most that half-width. Every variant's size is checked before any run
    (``max_memory``: see :func:`sim.run`). ``supply`` runs every variant with labour supply
    ``"fixed"`` (the short run), ``"adaptive"`` (the long run: see docs/labour-supply.md) or
    ``"both"``: each variant twice, named ``"<name> (fixed)"`` and ``"<name> (adaptive)"``,
    each compared with the baseline of the same supply (None: as the scenario says).
    ``progress``: a progress bar (True), none, or a callable given (runs done, runs asked
    for) after every run; ``cancel``: a callable asked after every run, whose True stops the
    comparison with :class:`~sim.foundation.errors.Cancelled` (see
    :mod:`sim.experiments.design`). ``latencies=True`` also keeps the claim latencies of
    replication 0 of every variant (:attr:`Comparison.latencies`).
    """
    _check_variants(variants)
    variants, baselines = with_supply(variants, supply, baseline or next(iter(variants)))
    baseline = next(iter(baselines.values())) if baselines else baseline
    names = _check_variants(variants)
    replications = whole(replications, "replications", 2)
    seed = check_seed(seed)
    if processes is not None:
        processes = whole(processes, "processes", 1)
    baseline = baseline or names[0]
    if baseline not in variants:
        raise SpecError(f"baseline: unknown variant {baseline!r}; allowed: {', '.join(names)}")
    target = _check_target(target)
    design = comparison_design(load_scenario(scenario), variants, seed, latencies)
    n_reps = replications
    limit = target.max_replications if target else replications
    with DesignRun(design, store=state_dir, executor=executor, processes=processes,
                   progress=progress, repair=repair, max_memory=max_memory,
                   cancel=cancel) as session:
        while True:
            runs = session.run(n_reps).drop(columns="point")
            runs = runs.astype({"variant": "str"})  # names as text, as pandas infers them
            earnings = {name: session.table(EARNINGS_TABLE, i, 0)["earnings"].to_numpy()
                        .tolist() for i, name in enumerate(names)}
            comparison = Comparison(runs=runs, baseline=baseline,
                                    variants={k: dict(v) for k, v in variants.items()},
                                    earnings=earnings, stats=session.stats,
                                    baselines=baselines)
            if latencies:
                comparison.latencies = {
                    name: claim_latency(session.table(LATENCY_TABLE, i, 0)).tolist()
                    for i, name in enumerate(names)}
            if not target or n_reps >= limit or _precise_enough(comparison, target):
                return comparison
            n_reps = min(limit, n_reps + max(session.pool.workers, n_reps // 2))


SUPPLY_MODES = ("fixed", "adaptive", "both")
"""Values of ``supply`` of :func:`compare` and ``--supply``."""


def with_supply(variants: Mapping[str, Mapping[str, Any]], supply: str | None, baseline: str
                ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The variants to run for ``supply`` (see :func:`compare`) and, with ``"both"``, each
    one's baseline (the baseline variant with the same supply; otherwise an empty mapping)."""
    if supply is None:
        return dict(variants), {}
    if supply not in SUPPLY_MODES:
        raise SpecError(f"supply: got {supply!r}; allowed: {', '.join(SUPPLY_MODES)}")
    modes = ("fixed", "adaptive") if supply == "both" else (supply,)
    out, baselines = {}, {}
    for mode in modes:
        for name, changes in variants.items():
            label = f"{name} ({mode})" if supply == "both" else name
            out[label] = {**changes, "supply.adaptive": mode == "adaptive"}
            baselines[label] = f"{baseline} ({mode})" if supply == "both" else baseline
    return out, (baselines if supply == "both" else {})


def _check_variants(variants: Any) -> list[str]:
    """The names of ``variants`` (a mapping of names to overrides), checked."""
    if not isinstance(variants, Mapping):
        raise TypeError(f"variants: expected a mapping of variant names to overrides, got "
                        f"{type(variants).__name__}")
    if not variants:
        raise SpecError("variants: give at least one variant (name: {path: value})")
    for name in variants:
        if not isinstance(name, str) or not name.strip():
            raise SpecError(f"variants: invalid name {name!r}; a variant needs a name")
    return list(variants)


def _check_target(target: Mapping[str, Any] | Target | None) -> Target | None:
    """``target`` as a :class:`~sim.experiments.specs.Target`, its metric a summary metric."""
    if target is None:
        return None
    target = target if isinstance(target, Target) else validated(Target, target, "target")
    if not (target.metric in SUMMARY_KEYS or "." in target.metric):
        raise SpecError(f"target.metric: unknown metric {target.metric!r}; allowed: a summary "
                        f"key such as {', '.join(SUMMARY_KEYS[:4])}, ...")
    return target


def comparison_design(base: Scenario, variants: Mapping[str, Mapping[str, Any]], seed: int,
                      latencies: bool = False) -> Design:
    """The design of a comparison: one point per variant (parameter ``variant``, its name),
    each the base scenario with the variant's overrides, keeping the workers table of
    replication 0 (for the earnings of the Lorenz overlay), and its tasks table with
    ``latencies`` (for the claim latencies)."""
    names = list(variants)
    spec = {"kind": "comparison", "scenario": base.to_dict(),
            "variants": {k: dict(v) for k, v in variants.items()}, "seed": seed,
            **({"latencies": True} if latencies else {})}
    tables = (EARNINGS_TABLE, LATENCY_TABLE) if latencies else (EARNINGS_TABLE,)
    return Design(scenario=lambda i: override(base, dict(variants[names[i]])),
                  parameters=("variant",), points=[[name] for name in names], seed=seed,
                  spec=spec, label=lambda i: f"variant {names[i]!r}",
                  tables=tables, tables_replications=1)


def _precise_enough(comparison: Comparison, target: Mapping[str, Any] | Target) -> bool:
    """Whether each baseline's interval of the target metric, and every paired-difference
    interval of it, are at most the target half-width."""
    target = _check_target(target)
    metric, goal = target.metric, float(target.half_width)
    own = comparison.table([metric]).set_index("variant")
    bases = comparison.baseline_names
    widths = ((own.loc[bases, "ci_high"] - own.loc[bases, "ci_low"]) / 2).tolist()
    if len(comparison.variants) > 1:
        paired = comparison.paired(metrics=[metric])
        widths += ((paired["ci_high"] - paired["ci_low"]) / 2).tolist()
    return bool(np.nanmax(widths) <= goal)


def save_comparison(comparison: Comparison, directory: str | Path,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``runs.parquet``, ``table.csv``, ``paired.csv``, ``earnings_replication0.parquet``
    and ``manifest.json`` atomically (see :func:`sim.results.storage.staged_folder`: an existing
    folder is replaced only if it is empty or a comparison folder microwork wrote)."""
    return write_folder(directory, "comparison",
                        lambda folder: write_comparison(comparison, folder, extra))


def write_comparison(comparison: Comparison, folder: Path,
                     extra: Mapping[str, Any] | None = None) -> None:
    """Write the comparison's files into an existing folder (see :func:`save_comparison`)."""
    comparison.runs.to_parquet(folder / "runs.parquet", index=False)
    comparison.table().to_csv(folder / "table.csv", index=False)
    comparison.paired().to_csv(folder / "paired.csv", index=False)
    pd.DataFrame({k: pd.Series(v) for k, v in comparison.earnings.items()}).to_parquet(
        folder / "earnings_replication0.parquet", index=False)
    manifest = {"baseline": comparison.baseline, "variants": comparison.variants,
                **({"baselines": comparison.baselines} if comparison.baselines else {}),
                "replications": int(comparison.runs["replication"].nunique()),
                "level": comparison.level, **provenance(), **(extra or {})}
    write_manifest(folder, "comparison", manifest)


# --------------------------------------------------------------------------- spec files


class ComparisonSpec(ExperimentSpec):
    """A comparison spec (``scenarios/policies.yaml``): ``scenario``, optional ``overrides``,
    ``variants`` (name: dotted-path overrides, ``{}`` or null for the scenario as it is) and
    optionally ``baseline``, ``replications``, ``seed``, ``processes`` and ``target``; what a
    file leaves out is None (the command line's options and defaults apply)."""

    KIND: ClassVar[str] = "comparison"

    variants: Annotated[dict[VariantName, Overrides], Field(min_length=1)]
    baseline: str | None = None
    replications: Annotated[int, Field(strict=True, ge=2)] | None = None
    seed: Seed | None = None
    processes: Count | None = None
    target: Target | None = None
    supply: Literal["fixed", "adaptive", "both"] | None = None
    _scenario_file: Path | None = PrivateAttr(None)

    @property
    def scenario_file(self) -> Path | None:
        """The scenario file the spec names (None for an inline scenario)."""
        return self._scenario_file

    def check(self) -> None:
        """The target metric is a summary metric of the scenario's runs."""
        known = summary_keys(self.scenario.profiles)
        if self.target is not None and self.target.metric not in known:
            raise SpecError(f"target.metric: {self.target.metric!r} is not a summary metric; "
                            f"choose one of {', '.join(known)}")


def load_comparison_spec(source: str | Path) -> ComparisonSpec:
    """Read ``source``: a comparison spec (a YAML mapping with a top-level ``variants`` key,
    see :class:`ComparisonSpec`) or a plain scenario file (a spec without variants, named
    after the scenario)."""
    path = Path(source)
    data = read_yaml(path, "scenario file")
    if not (isinstance(data, dict) and "variants" in data):
        scenario = load_scenario(path)
        spec = ComparisonSpec.model_construct(scenario=scenario, overrides={}, variants={})
        spec._name = scenario.name
        spec._scenario_file = path.resolve()
        return spec
    spec = ComparisonSpec.from_file_data(data, path)
    if isinstance(data["scenario"], str):
        spec._scenario_file = (path.parent / data["scenario"]).resolve()
    return spec
