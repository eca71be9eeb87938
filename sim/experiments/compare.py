"""Experiments: paired replications of scenario variants with confidence intervals.

Replication ``r`` of every variant runs with the same seed, hence the same workers and the same task
arrivals (common random numbers): differences between variants are paired, and their intervals are
computed on the paired differences. Runs go to an executor (a local process pool by default, see
:mod:`sim.experiments.executors`), and each finished run is streamed to disk so that an interrupted
comparison resumes where it stopped. Sweeps and sensitivity analyses (:mod:`sim.experiments.sweep`,
:mod:`sim.experiments.sensitivity`) reuse the seeds and intervals defined here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.metrics import SUMMARY_KEYS
from sim.experiments.executors import Executor, open_executor, progress_bar
from sim.foundation.checks import check_seed, whole_number
from sim.foundation.errors import ScenarioError
from sim.results.run import run
from sim.results.storage import (
    StateLayout,
    capped,
    damaged,
    write_folder,
    write_manifest,
    write_text,
)
from sim.scenario import size
from sim.scenario.loading import in_context, load_scenario, override
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    from sim.presentation.accessors import ComparisonPlots

PAIRED_COLUMNS = ["variant", "baseline", "metric", "n", "mean_diff", "se", "ci_low", "ci_high",
                  "p_value", "unpaired_ci_low", "unpaired_ci_high"]
IDENTITY = ["variant", "replication", "seed"]


def replication_seed(seed: int, replication: int) -> int:
    """Seed of replication ``replication``: the same for every variant, distinct across r."""
    ss = np.random.SeedSequence(seed, spawn_key=(replication,))
    return int(ss.generate_state(1, np.uint32)[0])


def _one_run(scn: Scenario, variant: str, replication: int, seed: int,
             max_memory: float | None = None) -> dict[str, Any]:
    """Run one (variant, replication) and keep what the comparison needs (no big tables)."""
    res = run(scn, seed=seed, variant=variant, replication=replication, max_memory=max_memory)
    row = {"variant": variant, "replication": replication, "seed": seed, **res.summary}
    return {"row": row, "earnings": res.workers["earnings"].to_numpy().tolist()}


def interval(values: np.ndarray, level: float) -> tuple[float, float, float, float]:
    """Mean, standard error and the t-based interval of independent values."""
    values = values[~np.isnan(values)]
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    if n < 2:
        return mean, np.nan, np.nan, np.nan
    se = float(values.std(ddof=1) / np.sqrt(n))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * se)
    return mean, se, mean - half, mean + half


def interval_table(runs: pd.DataFrame, by: str, metrics: Iterable[str], level: float = 0.95
                   ) -> pd.DataFrame:
    """Per value of column ``by`` (in order of appearance) and metric: number of runs, mean,
    standard error and the t-based ``level`` interval of the mean over replications."""
    rows = []
    metrics = list(metrics)
    for key, group in runs.groupby(by, sort=False):
        for metric in metrics:
            mean, se, low, high = interval(group[metric].to_numpy(float), level)
            rows.append({by: key, "metric": metric, "n": len(group), "mean": mean, "se": se,
                         "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=[by, "metric", "n", "mean", "se", "ci_low", "ci_high"])


@dataclass
class Comparison:
    """Results of :func:`compare`: one row per run plus interval tables built from them."""

    runs: pd.DataFrame
    baseline: str
    variants: dict[str, dict[str, Any]]
    earnings: dict[str, list[float]] = field(default_factory=dict)  # replication 0 per variant
    level: float = 0.95
    stats: dict[str, Any] = field(default_factory=dict)
    """How the runs were obtained: executor, runs computed, runs resumed from the state."""

    def __repr__(self) -> str:
        reps = self.runs["replication"].nunique() if len(self.runs) else 0
        return (f"<Comparison of {len(self.variants)} variants x {reps} replications, "
                f"baseline {self.baseline!r}: {', '.join(self.variants)}>")

    def _repr_html_(self) -> str:
        """Headline metrics per variant with intervals and paired differences, for Jupyter."""
        from sim.presentation import accessors

        return accessors.comparison_html(self)

    @property
    def plot(self) -> ComparisonPlots:
        """The comparison's figures, one call each: ``cmp.plot.tradeoff()`` (see
        :class:`sim.presentation.accessors.ComparisonPlots`)."""
        from sim.presentation import accessors

        return accessors.ComparisonPlots(self)

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
        baseline = baseline or self.baseline
        if baseline not in self.variants:
            raise ValueError(f"unknown baseline {baseline!r}; variants: {list(self.variants)}")
        wide = self.runs.set_index(["variant", "replication"])
        base = wide.loc[baseline]
        rows = []
        for variant in self.variants:
            if variant == baseline:
                continue
            other = wide.loc[variant]
            common = base.index.intersection(other.index)
            for metric in metrics or self.metrics:
                a = other.loc[common, metric].to_numpy(float)
                b = base.loc[common, metric].to_numpy(float)
                ok = ~(np.isnan(a) | np.isnan(b))
                diff = a[ok] - b[ok]
                mean, se, low, high = interval(diff, self.level)
                p = _paired_p_value(diff)
                u_low, u_high = _welch(a[ok], b[ok], self.level)
                rows.append({"variant": variant, "baseline": baseline, "metric": metric,
                             "n": int(ok.sum()), "mean_diff": mean, "se": se, "ci_low": low,
                             "ci_high": high, "p_value": p, "unpaired_ci_low": u_low,
                             "unpaired_ci_high": u_high})
        return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def _paired_p_value(diff: np.ndarray) -> float:
    """Two-sided paired t-test p-value of mean difference 0 (constant differences: 0 or 1)."""
    if len(diff) < 2:
        return np.nan
    if np.all(diff == diff[0]):
        return 1.0 if diff[0] == 0 else 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def _welch(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float]:
    """Interval of mean(a) - mean(b) treating the samples as independent (Welch)."""
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    if se == 0:
        return 0.0, 0.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    diff = a.mean() - b.mean()
    return float(diff - half), float(diff + half)


def run_file_name(variant: str, replication: int) -> str:
    """File name of run (``variant``, ``replication``) in a comparison's state folder: the
    variant name URL-encoded (any name gives one file name) and capped in length."""
    return f"{capped(quote(variant, safe=''))}-{replication:05d}.json"


STATE = StateLayout(kind="comparison", files=(), run_dirs=("runs",),
                    is_run_file=re.compile(r"[A-Za-z0-9%._~-]+-\d{5,}\.json").fullmatch)
"""The state folder of a comparison: ``spec.json`` and ``runs/<variant>-<replication>.json``,
one file per finished run (see :func:`run_file_name`)."""


def _read_run_file(path: Path) -> tuple[tuple[str, int] | None, dict[str, Any], str]:
    """The key and content of a comparison run file, or (None, {}, what is wrong)."""
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, {}, f"cannot be read ({type(exc).__name__}: {exc})"
    row = item.get("row") if isinstance(item, dict) else None
    if not (isinstance(row, dict) and isinstance(item.get("earnings"), list)
            and isinstance(row.get("variant"), str) and type(row.get("replication")) is int):
        return None, {}, "not a finished run (expected 'row' and 'earnings')"
    key = (row["variant"], row["replication"])
    if run_file_name(*key) != path.name:
        return None, {}, f"it holds run {key}, which belongs in {run_file_name(*key)}"
    return key, item, ""


class _Store:
    """Finished runs streamed to ``folder`` (one JSON file per run, see :data:`STATE`), for
    resuming. Opening it checks the folder and every run file, before anything is computed:
    a damaged file raises StoreError, or is deleted (and its run computed again) with
    ``repair``."""

    def __init__(self, folder: Path | None, spec: dict[str, Any], repair: bool = False) -> None:
        self.folder = folder
        self.done: dict[tuple[str, int], dict[str, Any]] = {}
        if folder is None:
            return
        STATE.open(folder, spec)
        bad = []
        runs = folder / "runs"
        for path in sorted(runs.iterdir()) if runs.is_dir() else []:
            if not STATE.is_run_file(path.name):
                continue  # a temporary file of a running writer
            key, item, problem = _read_run_file(path)
            if key is None:
                bad.append((path, problem))
            else:
                self.done[key] = item
        damaged(bad, repair)

    def add(self, item: dict[str, Any]) -> None:
        key = (item["row"]["variant"], item["row"]["replication"])
        self.done[key] = item
        if self.folder is None:
            return
        runs = self.folder / "runs"
        runs.mkdir(exist_ok=True)
        write_text(runs / run_file_name(*key), json.dumps(item))


def compare(
    scenario: Scenario | dict[str, Any] | str,
    variants: Mapping[str, Mapping[str, Any]],
    replications: int = 20,
    seed: int = 1,
    processes: int | None = None,
    *,
    baseline: str | None = None,
    state_dir: str | Path | None = None,
    progress: bool = True,
    target: Mapping[str, Any] | None = None,
    executor: Any = None,
    repair: bool = False,
    max_memory: float | str | None = None,
) -> Comparison:
    """Run every variant ``replications`` times with paired seeds and return a Comparison.

    ``variants`` maps a name to dotted-path overrides of ``scenario``. Runs go to ``executor`` (see
    :mod:`sim.experiments.executors`: ``"local"`` pool by default, ``"inprocess"``, ``"dask"``, a
    scheduler address or a Dask ``Client``); ``processes`` sizes the local pool and defaults to the
    number of cores (1 runs in this process). With ``state_dir`` every finished run is written there
    and a later call with the same arguments skips the runs already done; a damaged run file found
    there raises StoreError, unless ``repair`` (then it is deleted and its run computed again).
    ``target={"metric": "earnings_gini", "half_width": 0.002, "max_replications": 100}`` adds
    replications until every variant's paired-difference interval of that metric (its own interval
    for the baseline) is at most that half-width. Every variant's size is checked before any run
    (``max_memory``: see :func:`sim.run`).
    """
    if not isinstance(variants, Mapping):
        raise TypeError(f"variants: expected a mapping of variant names to overrides, got "
                        f"{type(variants).__name__}")
    if not variants:
        raise ScenarioError("variants: give at least one variant (name: {path: value})")
    replications = whole_number(replications, "replications", 2)
    seed = check_seed(seed)
    if processes is not None:
        processes = whole_number(processes, "processes", 1)
    for name in variants:
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(f"variants: invalid name {name!r}; a variant needs a name")
    baseline = baseline or next(iter(variants))
    if baseline not in variants:
        raise ScenarioError(f"baseline: unknown variant {baseline!r}; allowed: "
                            f"{', '.join(variants)}")
    if target is not None and "metric" in target and not (
            target["metric"] in SUMMARY_KEYS or "." in str(target["metric"])):
        raise ScenarioError(f"target.metric: unknown metric {target['metric']!r}; allowed: "
                            f"a summary key such as {', '.join(SUMMARY_KEYS[:4])}, ...")
    base_scn = load_scenario(scenario)
    scenarios = {name: override(base_scn, dict(changes)) for name, changes in variants.items()}
    limit_bytes = size.parse_memory(max_memory)
    for name, scn in scenarios.items():
        try:
            size.check(scn, limit_bytes / size.GIB)
        except ScenarioError as exc:
            raise in_context(exc, f"variant {name!r}") from None
    spec = {"scenario": base_scn.to_dict(), "variants": {k: dict(v) for k, v in variants.items()},
            "seed": seed}
    store = _Store(Path(state_dir) if state_dir else None, spec, repair)
    resumable = set(store.done)
    n_reps = replications
    limit = int(target.get("max_replications", 200)) if target else replications
    with open_executor(executor, processes or os.cpu_count() or 1) as pool:
        while True:
            todo = [(name, r) for r in range(n_reps) for name in scenarios
                    if (name, r) not in store.done]
            bar = progress_bar(len(scenarios) * n_reps, len(scenarios) * n_reps - len(todo),
                               progress, pool)
            try:
                _execute(scenarios, todo, seed, pool, store, bar, limit_bytes / size.GIB)
            finally:
                bar.close()
            used = {(name, r) for name in scenarios for r in range(n_reps)}
            stats = {"executor": pool.describe(), "runs_computed": len(used - resumable),
                     "runs_resumed": len(used & resumable)}
            comparison = _assemble(store, scenarios, variants, baseline, n_reps, stats)
            if not target or n_reps >= limit or _precise_enough(comparison, target):
                return comparison
            n_reps = min(limit, n_reps + max(pool.workers, n_reps // 2))


def _execute(scenarios: dict[str, Scenario], todo: list[tuple[str, int]], seed: int,
             pool: Executor, store: _Store, bar: Any, max_memory: float) -> None:
    """Run the ``todo`` (variant, replication) pairs on ``pool``, streaming each to ``store``."""
    tasks = ((scenarios[name], name, r, replication_seed(seed, r), max_memory)
             for name, r in todo)
    with closing(pool.map_unordered(_one_run, tasks)) as results:
        for item in results:
            store.add(item)
            bar.update()


def _assemble(store: _Store, scenarios: dict[str, Scenario], variants: Mapping[str, Any],
              baseline: str, n_reps: int, stats: dict[str, Any]) -> Comparison:
    items = [store.done[(name, r)] for name in scenarios for r in range(n_reps)]
    runs = pd.DataFrame([item["row"] for item in items])
    earnings = {name: store.done[(name, 0)]["earnings"] for name in scenarios}
    return Comparison(runs=runs, baseline=baseline,
                      variants={k: dict(v) for k, v in variants.items()}, earnings=earnings,
                      stats=stats)


def _precise_enough(comparison: Comparison, target: Mapping[str, Any]) -> bool:
    metric, goal = target["metric"], float(target["half_width"])
    own = comparison.table([metric]).set_index("variant")
    widths = [(own.loc[comparison.baseline, "ci_high"] - own.loc[comparison.baseline, "ci_low"])
              / 2]
    if len(comparison.variants) > 1:
        paired = comparison.paired(metrics=[metric])
        widths += ((paired["ci_high"] - paired["ci_low"]) / 2).tolist()
    return bool(np.nanmax(widths) <= goal)


def save_comparison(comparison: Comparison, directory: str | Path,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``runs.parquet``, ``table.csv``, ``paired.csv`` and ``manifest.json`` atomically
    (see :func:`sim.folders.staged_folder`: an existing folder is replaced only if it is empty
    or a comparison folder microwork wrote)."""
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
    from sim.results.run_result import provenance

    manifest = {"baseline": comparison.baseline, "variants": comparison.variants,
                "replications": int(comparison.runs["replication"].nunique()),
                "level": comparison.level, **provenance(), **(extra or {})}
    write_manifest(folder, "comparison", manifest)
