"""microwork: a SimPy discrete-event simulator of the micro-work economy.

Public API: ``load_scenario``, ``override``, ``run``, ``load_result``, ``RunResult``,
``Scenario``, ``ScenarioError``; experiments: ``compare``, ``sweep``, ``sensitivity``.

``sim.sweep`` and ``sim.sensitivity`` are the functions; the modules of the same names are
reached with ``from sim.sweep import ...`` and ``from sim.sensitivity import ...``.
"""

from sim.errors import MicroworkError, ScenarioError
from sim.experiment import compare
from sim.model import run
from sim.results import RunResult, __version__, load_result
from sim.scenario import Scenario, load_scenario, override
from sim.sensitivity import sensitivity
from sim.sweep import sweep

__all__ = [
    "MicroworkError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "compare",
    "load_result",
    "load_scenario",
    "override",
    "run",
    "sensitivity",
    "sweep",
]
