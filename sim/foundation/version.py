"""The package version, read from the installed distribution's metadata (pyproject.toml is
the one place it is written)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("microwork")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"
