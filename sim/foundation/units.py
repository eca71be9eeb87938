"""Time units of the simulation clock (seconds) and durations with units ("90s", "5min",
"2h", "30d"): every time constant of the package is defined here, once."""

from __future__ import annotations

import math
import re

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
MONTH = 30 * DAY
"""The 30-day month to which monthly figures are scaled."""
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names; day 0 of every run is a Monday."""
UNITS: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "min": MINUTE,
    "h": HOUR,
    "d": DAY,
    "w": WEEK,
}
_PATTERN = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([a-z]+)?\s*$")


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds: a number is taken as seconds, a string may carry a unit.

    Raises ValueError with the allowed forms for anything else, so scenario validation can
    report the field path alongside it.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match or (match.group(2) or "s") not in UNITS:
            allowed = ", ".join(f'"{u}"' for u in UNITS)
            raise ValueError(
                f"invalid duration {value!r}: use seconds or a number with a unit ({allowed}),"
                ' e.g. "90s", "5min", "2h", "30d"'
            )
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration (seconds or a string like '5min'), got {value!r}")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds in the largest unit that keeps the figure readable (for tables and plots)."""
    if not math.isfinite(seconds):
        return str(seconds)
    for unit, size in (("d", DAY), ("h", HOUR), ("min", MINUTE)):
        if abs(seconds) >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"
