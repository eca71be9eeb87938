"""The status of a task through a run: what the ``status`` column of the tasks table holds.

The platform keeps statuses as small integers in plain lists (fast in the hot path); the
:class:`TaskStatus` enum names them, and the module constants are its values as plain ints.
``CLAIMED`` only exists during a run: at the end every claimed task is approved, rejected or
abandoned.
"""

from __future__ import annotations

from enum import IntEnum


class TaskStatus(IntEnum):
    """Where a task is: done and paid, done and refused, never claimed, or dropped."""

    APPROVED = 0
    REJECTED = 1
    EXPIRED = 2
    ABANDONED = 3
    OPEN = 4
    CLAIMED = 5


APPROVED, REJECTED, EXPIRED, ABANDONED, OPEN, CLAIMED = (int(s) for s in TaskStatus)
STATUS_NAMES = tuple(s.name.lower() for s in TaskStatus if s is not TaskStatus.CLAIMED)
"""The statuses a task can have at the end of a run, in code order (the tasks table's
categories)."""
