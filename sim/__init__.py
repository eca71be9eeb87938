"""microwork: a SimPy discrete-event simulator of the micro-work economy.

Public API: ``load_scenario``, ``override``, ``run``, ``load_result``, ``RunResult``,
``Scenario``, ``ScenarioError``.
"""

from sim.errors import ScenarioError
from sim.model import run
from sim.results import RunResult, __version__, load_result
from sim.scenario import Scenario, load_scenario, override

__all__ = [
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_result",
    "load_scenario",
    "override",
    "run",
]
