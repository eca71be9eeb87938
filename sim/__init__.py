"""microwork: a SimPy discrete-event simulator of the micro-work economy.

Public API: ``load_scenario``, ``override``, ``run``, ``load_result``, ``RunResult``,
``Scenario``, ``ScenarioError``, ``MicroworkError``; experiments: ``compare``, ``sweep``,
``sensitivity``; the policy explorer: ``explore`` (a Panel page, in a notebook or served by
``microwork explore``). The package is split into layers that import one way (see
``docs/architecture.md``); these names are its front door, loaded on first use so that
``import sim`` (and the ``microwork`` command) start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.foundation.version import __version__

if TYPE_CHECKING:
    from sim.experiments.compare import compare
    from sim.experiments.sensitivity import sensitivity
    from sim.experiments.sweep import sweep
    from sim.foundation.errors import MicroworkError, ScenarioError
    from sim.presentation.explorer.app import explore
    from sim.results.run import run
    from sim.results.run_result import RunResult, load_result
    from sim.scenario.loading import load_scenario, override
    from sim.scenario.schema import Scenario

_EXPORTS = {
    "MicroworkError": "sim.foundation.errors",
    "RunResult": "sim.results.run_result",
    "Scenario": "sim.scenario.schema",
    "ScenarioError": "sim.foundation.errors",
    "compare": "sim.experiments.compare",
    "explore": "sim.presentation.explorer.app",
    "load_result": "sim.results.run_result",
    "load_scenario": "sim.scenario.loading",
    "override": "sim.scenario.loading",
    "run": "sim.results.run",
    "sensitivity": "sim.experiments.sensitivity",
    "sweep": "sim.experiments.sweep",
}

__all__ = [
    "MicroworkError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "compare",
    "explore",
    "load_result",
    "load_scenario",
    "override",
    "run",
    "sensitivity",
    "sweep",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used (PEP 562)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
