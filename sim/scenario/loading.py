"""Loading scenarios: from a YAML file, a dict or a Scenario; overriding fields by dotted path;
turning validation errors into messages that name the field, the value and what is allowed.

A scenario is validated once into an immutable :class:`~sim.scenario.schema.Scenario`;
variants are made with :func:`override`, the same mechanism for the command line,
comparisons and sweeps.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.foundation.errors import ScenarioError, shown
from sim.scenario.messages import format_error
from sim.scenario.paths import set_path
from sim.scenario.schema import Scenario
from sim.scenario.yaml_io import read_yaml


def in_context(exc: ScenarioError, where: str) -> ScenarioError:
    """``exc`` with ``where`` (a file, an override) put before each of its lines."""
    return type(exc)("\n".join(f"{where}: {line}" for line in str(exc).splitlines()))


def validate(data: dict[str, Any]) -> Scenario:
    """Validate a scenario dict, raising :class:`ScenarioError` with field paths on failure.

    Top-level keys starting with ``x-`` are YAML extension fields (holders of ``&anchors``
    reused elsewhere in the file) and are dropped; every other unknown key is an error.
    """
    if not isinstance(data, dict):  # say what it is without echoing a whole unrelated file
        what = f"text of {len(data):,} characters" if isinstance(data, str) else \
            f"a {type(data).__name__}" if isinstance(data, list | tuple) else shown(data)
        raise ScenarioError(f"<scenario>: a scenario is a mapping of keys to values (got "
                            f"{what})")
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_error(err)) from None


def load_scenario(source: str | Path | dict[str, Any] | Scenario) -> Scenario:
    """Load and validate a scenario from a YAML file path, a dict or an existing Scenario."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return validate(copy.deepcopy(source))
    if not isinstance(source, str | Path):
        raise TypeError(f"load_scenario: source must be a path (str or Path), a dict or a "
                        f"Scenario, got {type(source).__name__} {shown(source)}")
    path = Path(source)
    try:
        return validate(read_scenario_file(path))
    except ScenarioError as exc:
        raise in_context(exc, str(path)) from None


MAX_EXTENDS = 8
"""Longest chain of scenario files extending one another."""


def read_scenario_file(path: str | Path, chain: tuple[Path, ...] = ()) -> Any:
    """The plain scenario dict of a YAML file, not validated, with what it ``extends``
    resolved: the other file's scenario (in the same folder), its ``changes`` applied as
    dotted paths, then the keys it sets itself. Errors name the file they are in."""
    path = Path(path)
    data = read_yaml(path, "scenario file")
    if data is None:
        raise ScenarioError(f"{path}: the file is empty")
    if not isinstance(data, dict) or "extends" not in data:
        return data
    data = dict(data)
    parent, changes = data.pop("extends"), data.pop("changes", None) or {}
    where = f"{path}: extends"
    if not isinstance(parent, str) or Path(parent).name != parent:
        raise ScenarioError(f"{where}: the name of a scenario file in the same folder (got "
                            f"{shown(parent)})")
    base_path = path.parent / parent
    if base_path.resolve() in chain or len(chain) >= MAX_EXTENDS:
        raise ScenarioError(f"{where}: {parent!r} extends this file again, or the chain is "
                            f"longer than {MAX_EXTENDS} files")
    if not isinstance(changes, Mapping) or not all(isinstance(k, str) for k in changes):
        raise ScenarioError(f"{path}: changes: a mapping of dotted paths to values (got "
                            f"{shown(changes)})")
    base = read_scenario_file(base_path, (*chain, path.resolve()))
    if not isinstance(base, dict):
        raise ScenarioError(f"{base_path}: a scenario is a mapping of keys to values")
    base = {k: v for k, v in base.items() if not str(k).startswith("x-")}
    for key, value in changes.items():
        try:
            set_path(base, key, value)
        except ScenarioError as exc:
            raise in_context(exc, f"{path}: changes") from None
    return {**base, **data}


def override(scenario: Scenario | dict[str, Any], changes: dict[str, Any]) -> Scenario:
    """Return a new scenario with dotted-path ``changes`` applied and everything re-validated.

    ``override(scn, {"platform.allocation.rule": "fcfs", "horizon": "7d"})``; list items are
    addressed by index (``profiles.employee.sessions.0.probability``).
    """
    if not isinstance(scenario, Scenario | dict):
        raise TypeError(f"override: scenario must be a Scenario or a dict, got "
                        f"{type(scenario).__name__}")
    if not isinstance(changes, Mapping) or not all(isinstance(k, str) for k in changes):
        raise TypeError(f"override: changes must be a mapping of dotted paths (str) to values, "
                        f"got {type(changes).__name__} {shown(changes)}")
    data = scenario.to_dict() if isinstance(scenario, Scenario) else copy.deepcopy(scenario)
    for path, value in changes.items():
        set_path(data, path, value)
    try:
        return validate(data)
    except ScenarioError as exc:
        paths = ", ".join(f"{k}={shown(v)}" for k, v in changes.items())
        raise in_context(exc, f"after override {shown(paths)[1:-1]}") from None
