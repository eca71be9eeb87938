"""Executors (issue 6): the same experiment gives the same tables, bit for bit, in this
process, on the local process pool and on a real Dask ``LocalCluster``; errors and bad
executor names are reported, and only what an executor started is shut down.

The Dask cluster is started once for the module (2 single-threaded worker processes, no
dashboard) and closed at the end; the experiments are a few runs of the tiny test scenario.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from conftest import SMALL_SCENARIO

import sim
from sim.experiments.executors import (
    DaskExecutor,
    InProcessExecutor,
    LocalPoolExecutor,
    make_executor,
    open_executor,
)
from sim.experiments.sweep import SweepResult
from sim.foundation.errors import ExecutorError

distributed = pytest.importorskip("distributed")

GRID: dict[Any, list[Any]] = {
    "platform.daily_cap": [3, None],
    "profiles.employee.share,profiles.student.share": [[0.5, 0.3], [0.3, 0.5]],
}
VARIANTS = {"fcfs": {}, "lottery": {"platform.allocation": {"rule": "lottery", "window": 60}}}


def tiny() -> dict[str, Any]:
    scn = copy.deepcopy(SMALL_SCENARIO)
    scn["horizon"] = "1d"
    return scn


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A real dask.distributed LocalCluster of 2 worker processes, shut down afterwards."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    dask_client = distributed.Client(cluster)
    yield dask_client
    dask_client.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference() -> SweepResult:
    """The sweep run in this process, one run after the other."""
    return sim.sweep(tiny(), GRID, replications=2, seed=4, executor="inprocess", progress=False)


def assert_same_sweep(a: SweepResult, b: SweepResult) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.table(), b.table(), check_exact=True)


def test_process_pool_gives_identical_tables(reference: SweepResult) -> None:
    pooled = sim.sweep(tiny(), GRID, replications=2, seed=4, processes=2, progress=False)
    assert pooled.stats["executor"] == "local (2 workers)"
    assert pooled.stats["runs_computed"] == 8
    assert_same_sweep(pooled, reference)


def test_dask_cluster_gives_identical_tables(reference: SweepResult, client: Any) -> None:
    """On a Dask cluster (passed as a Client) the runs, their order and every value are the
    same as in-process; the caller's client stays open."""
    on_dask = sim.sweep(tiny(), GRID, replications=2, seed=4, executor=client, progress=False)
    assert on_dask.stats["executor"].startswith("dask (2 workers")
    assert_same_sweep(on_dask, reference)
    assert client.status == "running"


def test_dask_address_and_streaming_to_disk(reference: SweepResult, client: Any,
                                           tmp_path: Any) -> None:
    """A scheduler address connects to the existing cluster; runs streamed to a store give
    the same tables as the in-memory reference."""
    address = client.scheduler.address
    result = sim.sweep(tiny(), GRID, replications=2, seed=4, executor=address,
                       store=tmp_path / "runs", progress=False)
    assert_same_sweep(result, reference)
    assert len(list((tmp_path / "runs" / "runs").glob("*.parquet"))) == 8
    assert client.status == "running"  # the executor closed its own client only


def test_compare_on_every_executor(client: Any) -> None:
    """compare() takes the same executors: in-process, pool, an existing Dask cluster and a
    LocalCluster that compare starts and stops itself (executor="dask")."""
    runs = {}
    for name, executor, processes in [("inprocess", "inprocess", None), ("pool", None, 2),
                                      ("client", client, None), ("dask", "dask", 2)]:
        cmp = sim.compare(tiny(), VARIANTS, replications=2, seed=3, processes=processes,
                          executor=executor, progress=False)
        runs[name] = cmp
    for name in ("pool", "client", "dask"):
        pd.testing.assert_frame_equal(runs[name].runs, runs["inprocess"].runs, check_exact=True)
        assert runs[name].earnings == runs["inprocess"].earnings


def test_processes_picks_the_executor() -> None:
    assert isinstance(make_executor(None, 1), InProcessExecutor)
    assert isinstance(make_executor("local", 1), InProcessExecutor)
    pool = make_executor(None, 3)
    assert isinstance(pool, LocalPoolExecutor) and pool.workers == 3
    assert isinstance(make_executor("inprocess", 4), InProcessExecutor)
    mine = InProcessExecutor()
    with open_executor(mine) as ex:
        assert ex is mine


@pytest.mark.parametrize("spec", ["threads", "Dask", 3, "local:2"])
def test_unknown_executor_is_an_executor_error(spec: Any) -> None:
    with pytest.raises(ExecutorError, match="executor: unknown executor") as err:
        make_executor(spec)
    assert "inprocess" in str(err.value) and "tcp://host:8786" in str(err.value)


def test_unreachable_scheduler_is_an_executor_error() -> None:
    with pytest.raises(ExecutorError, match="cannot reach a Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout="1s")


@pytest.mark.parametrize("executor", ["inprocess", "pool", "client"])
def test_a_failing_run_raises_to_the_caller(executor: str, client: Any) -> None:
    """An exception in a run reaches the caller (the remaining runs are cancelled)."""
    ex = {"inprocess": InProcessExecutor(), "pool": LocalPoolExecutor(2),
          "client": DaskExecutor(client)}[executor]
    tasks = [(str(i),) for i in range(20)] + [("not a number",)]
    with ex, pytest.raises(ValueError, match="invalid literal"):
        sorted(ex.map_unordered(int, tasks))


def test_results_come_back_whatever_the_order() -> None:
    """Every task's result is yielded once, even with more tasks than the in-flight window."""
    with LocalPoolExecutor(2) as ex:
        got = sorted(ex.map_unordered(pow, [(i, 2) for i in range(50)]))
    assert got == [i * i for i in range(50)]
