"""The public API is pinned: ``sim.__all__`` lists exactly these names, each resolves (they are
loaded on first use), and ``from sim import *`` gives them all. Adding or removing a public name
is a deliberate change of this list."""

from __future__ import annotations

import inspect

import pytest

import sim

PUBLIC = ["MicroworkError", "RunResult", "Scenario", "ScenarioError", "__version__", "compare",
          "explore", "load_result", "load_scenario", "override", "run", "sensitivity", "sweep"]
FUNCTIONS = ["compare", "explore", "load_result", "load_scenario", "override", "run",
             "sensitivity", "sweep"]


def test_all_is_pinned() -> None:
    assert sorted(sim.__all__) == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_resolves(name: str) -> None:
    value = getattr(sim, name)
    assert value is not None and name in dir(sim)
    if name in FUNCTIONS:
        assert inspect.isfunction(value) and value.__name__ == name and value.__doc__


def test_error_hierarchy() -> None:
    """Every input error is a MicroworkError, itself a ValueError."""
    assert issubclass(sim.ScenarioError, sim.MicroworkError)
    assert issubclass(sim.MicroworkError, ValueError)
    assert inspect.isclass(sim.RunResult) and inspect.isclass(sim.Scenario)
    assert isinstance(sim.__version__, str) and sim.__version__


def test_star_import_gives_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from sim import *", namespace)
    assert {n for n in namespace if n != "__builtins__"} == set(PUBLIC)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulate'"):
        _ = sim.simulate
