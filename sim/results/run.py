"""``sim.run``: one simulation of a scenario, from its records to a :class:`RunResult`.

The core (:func:`sim.core.engine.simulate`) returns plain records; here they become the tidy
tables, the headline summary (:mod:`sim.analysis.metrics`) and the scenario's calibration
measures (:mod:`sim.analysis.measures`), with the run's identity and cost.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from sim.analysis.measures import MEASURES, MeasureContext
from sim.analysis.metrics import summarize
from sim.analysis.turnover import turnover_summary
from sim.core.engine import ProgressCallback, simulate
from sim.foundation.checks import check_seed
from sim.foundation.progress import HorizonProgress
from sim.results.panel import worker_months
from sim.results.run_result import RunResult
from sim.results.tables import registration_table, session_table, task_table, worker_table
from sim.scenario import size
from sim.scenario.loading import load_scenario
from sim.scenario.schema import Scenario


def measure_targets(scn: Scenario, tasks: pd.DataFrame, workers: pd.DataFrame) -> dict[str, float]:
    """Measured value of every outcome target of the scenario, keyed ``target.<id>``."""
    if scn.calibration is None:
        return {}
    context = MeasureContext(horizon=scn.horizon, scale=scn.scale,
                             requesters=sum(m.requesters.count for m in scn.market()))
    return {
        f"target.{tid}": MEASURES[spec.measure](context, tasks, workers)
        for tid, spec in scn.calibration.targets.items()
        if spec.measure is not None
    }


def run(
    scenario: Scenario | dict[str, Any] | str,
    seed: int = 0,
    *,
    variant: str = "base",
    replication: int = 0,
    progress: ProgressCallback | bool | None = None,
    max_memory: float | str | None = None,
) -> RunResult:
    """Simulate ``scenario`` once with ``seed`` and return its tables and summary.

    ``variant`` and ``replication`` only label the result rows (identity columns).
    ``progress`` is called with the fraction of the horizon simulated so far; ``True`` shows a
    progress bar instead (a widget in Jupyter, text in a terminal; shown after a second).
    Before anything is built the run's size is estimated (:mod:`sim.scenario.size`); a run
    whose estimated memory exceeds ``max_memory`` (GiB or a string such as ``"32GiB"``;
    default :data:`sim.scenario.size.DEFAULT_MAX_MEMORY`) is refused with a ScenarioError.
    """
    scn = load_scenario(scenario)
    seed = check_seed(seed)
    size.check(scn, max_memory)
    if progress is True:
        bar = HorizonProgress(f"simulating {scn.name}")
        try:
            return run(scn, seed, variant=variant, replication=replication, progress=bar,
                       max_memory=max_memory)
        finally:
            bar.close()
    started = time.perf_counter()
    records = simulate(scn, seed, progress or None)
    identity = {"run_id": f"{scn.name}:{variant}:{replication}:{seed}", "seed": seed,
                "variant": variant, "replication": replication}
    tasks = task_table(records, scn, identity)
    workers = worker_table(records, scn, identity)
    sessions = session_table(records, identity)
    registrations = registration_table(records, scn, identity)
    stats = {
        "wall_time": time.perf_counter() - started,
        "events": records.events,
        "events_per_task": records.events / max(records.n_tasks, 1),
        "polls": records.polls,
    }
    adaptive = records.worker_joined is not None
    del records  # the tables hold what is needed: free the rest before the summary's temporaries
    summary = summarize(tasks, workers, scn.horizon)
    if adaptive:  # supply adapts: turnover of the workforce
        months = worker_months(tasks, workers, sessions, scn.horizon)
        always = (months.groupby("worker_id")["online_time"].agg(lambda x: (x > 0).all())
                  .reindex(workers["worker_id"], fill_value=False).to_numpy()
                  & (workers["joined_at"].to_numpy() == 0))
        summary.update(turnover_summary(workers, scn.horizon, always))
    return RunResult(
        scenario=scn,
        seed=seed,
        variant=variant,
        replication=replication,
        tasks=tasks,
        workers=workers,
        sessions=sessions,
        registrations=registrations,
        summary={**summary, **measure_targets(scn, tasks, workers)},
        stats=stats,
    )
