"""Errors raised for bad input: one hierarchy rooted in :class:`MicroworkError`.

Every error a user can cause by what they give microwork (a scenario, a spec file, a state or
result folder, an executor, a command-line option) is a :class:`MicroworkError`, itself a
``ValueError``; its message names the field or file, the value given (shortened) and what is
allowed, so a user can fix the input without reading a traceback. The command line prints the
message after ``error:`` and exits with status 2.
"""

from __future__ import annotations

import reprlib

SHOWN_CHARACTERS = 120
"""Longest text of a value quoted in an error message (longer values are shortened)."""

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = SHOWN_CHARACTERS - 20
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = 6
_SHORT.maxdict, _SHORT.maxlevel = 4, 2


def shown(value: object) -> str:
    """``repr(value)`` shortened to about :data:`SHOWN_CHARACTERS` characters, for messages:
    an error never echoes a huge input (an expanded YAML alias bomb, a whole unrelated file)."""
    text = _SHORT.repr(value)
    if len(text) > SHOWN_CHARACTERS:
        text = text[: SHOWN_CHARACTERS - 3] + "..."
    return text


class MicroworkError(ValueError):
    """Base of every error caused by bad input to microwork."""


class ScenarioError(MicroworkError):
    """A scenario (file, dict or override) is invalid, or too large to run.

    The message names the offending field path, the value given and what is allowed.
    """


class SpecError(MicroworkError):
    """A comparison, sweep or sensitivity spec (file or arguments) is invalid."""


class StoreError(MicroworkError):
    """A result or state folder cannot be used: not written by microwork, corrupt, or from a
    different experiment."""


class ExecutorError(MicroworkError):
    """An executor cannot be built or reached (unknown name, no Dask scheduler)."""


class UsageError(MicroworkError):
    """Bad command-line input that is not a scenario field (``--set`` syntax, ``--out``)."""


class Cancelled(Exception):
    """An experiment was stopped by its caller's cancel hook (``compare(cancel=...)``) before
    it finished. Not bad input, so not a :class:`MicroworkError`; nothing was written."""
