"""Where the runs of an experiment execute: in this process, on a local process pool, or on a
Dask cluster, behind one small interface.

An :class:`Executor` takes a module-level function and an iterable of argument tuples (one per
run: a scenario, its identity and its seed) and yields each run's return value as soon as it
finishes, in whatever order the runs finish. Callers key the results by the run identity they
carry, so the order never changes an experiment's tables; and because every run draws from its
own seed, the values are the same bit for bit on every executor. Only a bounded window of runs
is in flight at once, so an experiment of any size holds a few results in memory at a time.

``executor=`` of :func:`sim.compare`, :func:`sim.experiments.sweep` and
:func:`sim.experiments.sensitivity` accepts:

- ``None`` or ``"local"``: a pool of ``processes`` local processes (default: one per core;
  ``processes=1`` runs in this process);
- ``"inprocess"``: every run in this process, one after the other (for debugging);
- ``"dask"``: starts a ``dask.distributed.LocalCluster`` of ``processes`` single-threaded
  worker processes for the experiment and shuts it down afterwards;
- a scheduler address such as ``"tcp://host:8786"``, or a ``dask.distributed.Client``: runs on
  an existing cluster (whose workers must have ``microwork`` installed);
- an :class:`Executor` instance, which the caller keeps open and closes.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from itertools import islice
from typing import Any

from tqdm.auto import tqdm

from sim.foundation.errors import ExecutorError

EXECUTOR_NAMES = ("local", "inprocess", "dask")
"""Executor names accepted by ``executor=`` and ``--executor`` (besides a scheduler address)."""
WINDOW_PER_WORKER = 4
"""Runs kept in flight per worker: enough to keep every worker busy while results stream back,
few enough that memory does not grow with the size of the experiment."""


class Executor(ABC):
    """Runs ``fn(*task)`` for every task and yields the results as they finish."""

    name: str = "executor"

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many runs execute at the same time."""

    @abstractmethod
    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*task)`` for every task in completion order; an exception raised by a run
        is raised here (the runs not yet started are cancelled)."""

    def describe(self) -> str:
        """A short phrase naming the executor and its size, for progress bars and manifests."""
        n = self.workers
        return f"{self.name} ({n} worker{'' if n == 1 else 's'})"

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the processes or cluster connection this executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Every run in the calling process, one after the other: tracebacks and debuggers work."""

    name = "inprocess"

    @property
    def workers(self) -> int:
        """One run at a time."""
        return 1

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple]) -> Iterator[Any]:
        """Run the tasks in order and yield each result."""
        for task in tasks:
            yield fn(*task)


class LocalPoolExecutor(Executor):
    """A pool of local worker processes (``concurrent.futures``), started on first use.

    A call with a single task runs it in the calling process: starting a pool would cost more
    than the run.
    """

    name = "local"

    def __init__(self, processes: int | None = None) -> None:
        self.processes = max(1, processes or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """The number of worker processes."""
        return self.processes

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple]) -> Iterator[Any]:
        """Submit a window of tasks at a time and yield results as they complete."""
        it = iter(tasks)
        first = list(islice(it, 2))
        if len(first) < 2:
            for task in first:
                yield fn(*task)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.processes)
        pool = self._pool
        window = WINDOW_PER_WORKER * self.processes
        pending: set[Future] = {pool.submit(fn, *task) for task in first}
        pending |= {pool.submit(fn, *task) for task in islice(it, window - len(pending))}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    for task in islice(it, 1):
                        pending.add(pool.submit(fn, *task))
                    yield result
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Shut the pool down, cancelling runs not yet started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Runs on a Dask distributed cluster: a ``LocalCluster`` started here (``target=None``),
    the cluster at a scheduler address (``"tcp://host:8786"``) or an existing ``Client``.

    Only what this executor started (cluster, client) is closed by :meth:`close`. Workers of a
    remote cluster need ``microwork`` installed at the same version as the client.
    """

    name = "dask"

    def __init__(self, target: Any = None, workers: int | None = None, timeout: str = "10s",
                 **cluster_options: Any) -> None:
        try:  # Dask is an optional heavy backend: imported only when a Dask executor is made
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - a dependency of the package
            raise ExecutorError("executor: 'dask' needs the dask[distributed] package "
                                "(pip install 'dask[distributed]')") from None
        self._cluster = None
        self._owns_client = not isinstance(target, Client)
        if target is None:
            options = {"n_workers": max(1, workers or os.cpu_count() or 1),
                       "threads_per_worker": 1, "processes": True,
                       "dashboard_address": ":0",  # a free port: clusters never clash
                       "silence_logs": logging.ERROR, **cluster_options}
            self._cluster = LocalCluster(**options)
            self.client = Client(self._cluster)
        elif isinstance(target, Client):
            self.client = target
        else:
            try:
                self.client = Client(target, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ExecutorError(
                    f"executor: cannot reach a Dask scheduler at {target!r} ({exc}); start one "
                    "with 'dask scheduler' and 'dask worker ADDRESS', or use executor='dask' for "
                    "a local cluster") from None

    @property
    def workers(self) -> int:
        """Threads across the cluster's workers (at least 1 while workers are joining)."""
        info = self.client.scheduler_info(n_workers=-1)
        return max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def describe(self) -> str:
        """Executor size, and the address of Dask's dashboard (its live progress pages) when
        the dashboard's dependency (bokeh) is installed."""
        link = self.client.dashboard_link if _has_bokeh() else ""
        return super().describe() + (f", dashboard {link}" if link else "")

    def map_unordered(self, fn: Callable[..., Any], tasks: Iterable[tuple]) -> Iterator[Any]:
        """Submit a window of tasks at a time and yield results as Dask reports them done;
        each result is released on the cluster as soon as it is fetched."""
        from distributed import as_completed  # lazy, as in __init__

        it = iter(tasks)
        window = WINDOW_PER_WORKER * self.workers + 8  # the +8 covers workers joining later

        def submit(task: tuple) -> Any:
            return self.client.submit(fn, *task, pure=False)

        running = as_completed([submit(task) for task in islice(it, window)])
        try:
            for future in running:
                result = future.result()
                future.release()
                for task in islice(it, 1):
                    running.add(submit(task))
                yield result
        finally:
            left = list(running.futures)
            if left:
                with suppress(Exception):
                    self.client.cancel(left)

    def close(self) -> None:
        """Close the client and the local cluster if this executor started them."""
        if self._owns_client:
            with suppress(Exception):
                self.client.close()
        if self._cluster is not None:
            with suppress(Exception):
                self._cluster.close()


def _has_bokeh() -> bool:
    try:  # the dashboard's optional dependency, looked for only by a Dask executor
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def make_executor(spec: Any = None, processes: int | None = None) -> Executor:
    """Build the executor named by ``spec`` (see the module docstring); ``processes`` sizes a
    local pool or a local Dask cluster. Unknown names raise ExecutorError."""
    if isinstance(spec, Executor):
        return spec
    if spec is None or spec == "local":
        if processes == 1:
            return InProcessExecutor()
        return LocalPoolExecutor(processes)
    if spec == "inprocess":
        return InProcessExecutor()
    if spec == "dask":
        return DaskExecutor(None, workers=processes)
    if isinstance(spec, str) and "://" in spec:
        return DaskExecutor(spec)
    if type(spec).__name__ == "Client" and type(spec).__module__.startswith("distributed"):
        return DaskExecutor(spec)
    raise ExecutorError(
        f"executor: unknown executor {spec!r}; allowed: {', '.join(EXECUTOR_NAMES)}, a Dask "
        "scheduler address such as 'tcp://host:8786', a dask.distributed.Client or a "
        "sim.experiments.executors.Executor"
    )


@contextmanager
def open_executor(spec: Any = None, processes: int | None = None) -> Iterator[Executor]:
    """Context manager around :func:`make_executor`: closes what it started, never an
    Executor the caller passed in."""
    executor = make_executor(spec, processes)
    try:
        yield executor
    finally:
        if executor is not spec:
            executor.close()


def progress_bar(total: int, initial: int, enabled: bool, executor: Executor | None = None
                 ) -> Any:
    """A tqdm bar over runs (shown after a second), labelled with the executor when not the
    default one; for Dask it is fed by Dask's completion stream and names the dashboard."""
    label = executor.describe() if isinstance(executor, DaskExecutor) else None
    return tqdm(total=total, initial=initial, unit="run", disable=not enabled, delay=1,
                desc=label)
