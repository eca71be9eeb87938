"""Validation errors as microwork shows them: one line per problem, naming the field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sim.foundation.errors import shown
from sim.scenario.allocation import RULE_PARAMS, VALUE_SHOWN
from sim.scenario.distributions import DIST_NAMES


def format_error(err: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``<field path>: <what is wrong> (got <value, shortened>)``, the
    path after ``prefix`` (the section the model was validated as, e.g. a platform's)."""
    lines = []
    for e in err.errors():
        loc = prefix + ".".join(str(p) for p in e["loc"] if not _is_union_tag(p))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the scenario reference in the README)"
        given = e.get("input")
        hidden = e["type"] in ("missing", VALUE_SHOWN) or isinstance(given, dict | list | tuple)
        where = f"{loc}: " if loc else ""  # checks across fields name their fields themselves
        lines.append(f"{where}{msg}" + ("" if hidden else f" (got {shown(given)})"))
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    return part in DIST_NAMES or part in RULE_PARAMS or str(part).startswith("function-")
