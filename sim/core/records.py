"""What a run returns: plain columnar records (numpy arrays and name lists), no tables.

The simulation core fills these at the end of a run; :mod:`sim.results.tables` turns them
into the tidy tasks, workers and sessions tables. Keeping the boundary here means the core
needs no pandas and the results layer never reaches into the platform's private state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RunRecords:
    """Everything a run produced, one array per column (index = task id or worker id)."""

    profile_names: list[str]
    type_names: list[str]
    region_names: list[str]
    discovery_modes: list[str]
    # tasks
    task_batch: np.ndarray
    task_requester: np.ndarray
    task_type: np.ndarray  # index into type_names
    task_region: np.ndarray  # index into region_names, -1 for tasks done anywhere
    task_reward: np.ndarray
    task_effort: np.ndarray  # seconds of work of the batch for a typical worker
    task_released: np.ndarray
    task_expires: np.ndarray  # inf when the task never expires
    task_claimed: np.ndarray  # NaN when never claimed
    task_started: np.ndarray
    task_completed: np.ndarray
    task_worker: np.ndarray  # -1 when never claimed
    task_status: np.ndarray  # sim.core.status codes
    # workers
    worker_profile: np.ndarray  # index into profile_names
    worker_region: np.ndarray  # index into region_names, -1 when the scenario has no regions
    worker_discovery: np.ndarray  # index into discovery_modes
    worker_speed: np.ndarray
    worker_rejection: np.ndarray
    worker_reservation: np.ndarray
    worker_earnings: np.ndarray
    worker_work_time: np.ndarray  # seconds on approved tasks
    worker_unpaid_work: np.ndarray  # seconds on rejected and abandoned tasks
    # sessions, sorted by worker then start
    session_worker: np.ndarray
    session_start: np.ndarray
    session_end: np.ndarray
    # cost of the run
    events: int
    polls: int
    # adaptive supply only (None when supply is fixed)
    worker_joined: np.ndarray | None = None  # registration time
    worker_left: np.ndarray | None = None  # time the worker left (inf: still registered)
    # markets of several platforms only (None with one platform)
    platform_names: list[str] | None = None
    task_platform: np.ndarray | None = None  # index into platform_names
    member_worker: np.ndarray | None = None  # one row per (worker, platform) registration
    member_platform: np.ndarray | None = None
    member_earnings: np.ndarray | None = None  # earned on that platform
    member_claims: np.ndarray | None = None  # tasks claimed there

    @property
    def n_tasks(self) -> int:
        """Number of tasks posted."""
        return len(self.task_batch)

    @property
    def n_workers(self) -> int:
        """Number of registered workers."""
        return len(self.worker_profile)
