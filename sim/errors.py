"""Errors raised for bad user input."""


class ScenarioError(ValueError):
    """A scenario (file, dict or override) is invalid.

    The message names the offending field path, the value given and what is allowed, so a
    user can fix the file without reading a traceback.
    """
