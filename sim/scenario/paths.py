"""Dotted paths into a scenario: the one walker behind ``sim.override``, ``--set``, sweeps,
sensitivity problems and calibration inputs.

A path names a field by its keys, list items by index: ``platform.allocation.rule``,
``profiles.employee.sessions.0.probability``. In :func:`expand_path`, a ``*`` stands for every
key (or index) at that level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.foundation.errors import ScenarioError


def _child(node: Any, part: str) -> Any:
    """The item ``part`` of a mapping or list, or KeyError."""
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    if isinstance(node, dict) and part in node:
        return node[part]
    raise KeyError(part)


def get_path(data: Any, path: str | Sequence[str]) -> Any:
    """The value at ``path`` of a plain scenario dict (KeyError naming the missing part)."""
    node = data
    for part in path.split(".") if isinstance(path, str) else path:
        node = _child(node, part)
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Write ``value`` at ``path`` of a plain scenario dict in place; a missing leaf key is
    added (validation then says whether it is allowed), a missing section is an error."""
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{where}: no item {part!r} (the list has {len(node)} items)")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last and key not in node:
                raise ScenarioError(f"{path}: no field {where!r} in the scenario")
        else:
            raise ScenarioError(f"{path}: {'.'.join(parts[:i])!r} is a value, not a section")
        if last:
            node[key] = value
        else:
            if node[key] is None:
                node[key] = {}
            node = node[key]


def expand_path(path: str, data: dict[str, Any]) -> list[str]:
    """The concrete paths a path with ``*`` wildcards stands for in the scenario dict ``data``:
    those that exist and hold a number (a path without ``*`` is returned as it is)."""
    if "*" not in path.split("."):
        return [path]
    found: list[str] = []

    def walk(node: Any, parts: list[str], done: list[str]) -> None:
        if not parts:
            if isinstance(node, int | float) and not isinstance(node, bool):
                found.append(".".join(done))
            return
        head, rest = parts[0], parts[1:]
        if head == "*":
            keys = [str(i) for i in range(len(node))] if isinstance(node, list) else \
                list(node) if isinstance(node, dict) else []
        else:
            keys = [head]
        for key in keys:
            try:
                child = _child(node, key)
            except KeyError:
                continue
            walk(child, rest, [*done, key])

    walk(data, path.split("."), [])
    return found
