"""Experiment specs: the YAML files (and arguments) that describe a comparison, a sweep or a
sensitivity analysis, validated by pydantic models.

This module holds what the three kinds of spec share: :class:`ExperimentSpec`, the base of
:class:`~sim.experiments.compare.ComparisonSpec`, :class:`~sim.experiments.sweep.SweepSpec`
and :class:`~sim.experiments.sensitivity.SensitivitySpec` (each defined beside the checks it
uses), with the one reader of a spec's ``scenario`` (the path of a scenario file, relative to
the spec, or a scenario mapping written inline) and ``overrides`` (dotted paths applied to it
first); the field types; and :func:`validated`, which turns pydantic's errors into messages.

Unknown keys are errors, and every problem is reported on its own line naming the file, the
field and the value given (shortened): problems of the spec's own fields raise
:class:`~sim.foundation.errors.SpecError`, problems of the scenario it names raise
:class:`~sim.foundation.errors.ScenarioError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from sim.foundation.checks import MAX_SEED
from sim.foundation.errors import MicroworkError, ScenarioError, SpecError, shown
from sim.scenario.loading import in_context, load_scenario, override
from sim.scenario.schema import Scenario
from sim.scenario.yaml_io import read_yaml

M = TypeVar("M", bound=BaseModel)

VARIANT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
"""Names a variant may have in a comparison spec or a ``--variant`` option."""
VARIANT_NAME_RULE = "letters, digits, '_', '.', '+' or '-' (not starting with '.' or '-')"

_WORDS = {
    "int_type": "expected a whole number", "float_type": "expected a number",
    "bool_type": "expected true or false", "string_type": "expected a text",
    "dict_type": "expected a mapping", "list_type": "expected a list",
    "greater_than_equal": "expected at least {ge}", "greater_than": "expected more than {gt}",
    "less_than_equal": "expected at most {le}", "too_short": "expected at least {min_length} "
    "item(s)", "string_too_short": "expected a non-empty text", "missing": "missing",
    "model_type": "expected a mapping",
}
"""What the pydantic errors met in specs say, in the words of the other messages."""


# --------------------------------------------------------------------------- errors


def _problems(err: ValidationError, allowed: list[str], field: str) -> tuple[list[str], bool]:
    """One line per problem of ``err`` (``field: what is wrong (got value)``, the field path
    after ``field``), and whether every problem is one of the scenario a spec names."""
    lines, scenario_only = [], True
    for e in err.errors():
        loc = ".".join([field] * bool(field) + [str(p) for p in e["loc"] if p != "[key]"])
        cause = (e.get("ctx") or {}).get("error")
        scenario_only = scenario_only and isinstance(cause, ScenarioError)
        if isinstance(cause, MicroworkError):  # its message says what is wrong and the value
            texts = str(cause).splitlines()
        elif e["type"] == "extra_forbidden":
            keys = f"; allowed: {', '.join(allowed)}" if len(e["loc"]) == 1 else ""
            texts = [f"unknown key{keys}"]
        else:
            limits = {k: int(v) if isinstance(v, float) and v.is_integer() else v
                      for k, v in (e.get("ctx") or {}).items()}  # "more than 0", not "0.0"
            words = _WORDS.get(e["type"], e["msg"]).format(**limits)
            given = "" if e["type"] == "missing" else f" (got {shown(e['input'])})"
            texts = [words + given]
        lines += [f"{loc}: {text}" if loc else text for text in texts]
    return lines, scenario_only


def validated(model: type[M], data: Any, field: str = "", source: str = "",
              context: dict[str, Any] | None = None) -> M:
    """``data`` validated as ``model``. Problems raise SpecError (ScenarioError when all of them
    are problems of the scenario a spec names), one line per problem naming its field (after
    ``field``, the path of ``data`` in a larger spec), each line after ``source`` (the spec
    file) when given. ``context`` is pydantic's validation context."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        lines, scenario_only = _problems(err, list(model.model_fields), field)
        error = ScenarioError if scenario_only else SpecError
        raise error("\n".join(f"{source}: {line}" if source else line for line in lines)
                    ) from None


# --------------------------------------------------------------------------- fields


def _variant_name(name: str) -> str:
    if not VARIANT_NAME.fullmatch(name):
        raise SpecError(f"the name {name!r} must be {VARIANT_NAME_RULE}")
    return name


def _scenario(reference: Any, info: ValidationInfo) -> Scenario:
    """The scenario a spec names: a file path relative to the spec's folder (the validation
    context's ``folder``), or an inline mapping."""
    folder = Path((info.context or {}).get("folder", "."))
    if isinstance(reference, str) and reference.strip():
        return load_scenario(folder / reference)
    if isinstance(reference, dict):
        return load_scenario(reference)
    raise SpecError(f"expected the path of a scenario file (relative to the spec) or a "
                    f"scenario mapping, got {shown(reference)}")


def _none_is_empty(changes: Any) -> Any:
    return {} if changes is None else changes


Count = Annotated[int, Field(strict=True, ge=1)]
"""A whole number of at least 1 (replications of a sweep, processes)."""
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
Overrides = Annotated[dict[str, Any], BeforeValidator(_none_is_empty)]
"""Dotted scenario paths and their values (null: none)."""
VariantName = Annotated[str, AfterValidator(_variant_name)]
Number = Annotated[float, Field(strict=True)]
"""A number (an int or a float, not a bool or a text)."""


class Target(BaseModel):
    """``target`` of a comparison: add replications until the interval of ``metric`` (the
    baseline's own, and every paired difference) has at most ``half_width``, or until
    ``max_replications``."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    half_width: Annotated[float, Field(strict=True, gt=0)]
    max_replications: Annotated[int, Field(strict=True, ge=2)] = 200


# --------------------------------------------------------------------------- specs


class ExperimentSpec(BaseModel):
    """What every spec has: its ``scenario`` (a path relative to the spec file, or a
    mapping; loaded) and optional ``overrides`` of it (applied before the subclass's checks,
    :meth:`check`, which compare the other fields with the scenario). ``name`` is the spec
    file's name without extension (it names the default result folder). Keys given as null
    take their default (those of :attr:`NULL_IS_DEFAULT`)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    KIND: ClassVar[str] = "experiment"
    NULL_IS_DEFAULT: ClassVar[tuple[str, ...]] = ()

    scenario: Annotated[Scenario, BeforeValidator(_scenario)]
    overrides: Overrides = Field(default_factory=dict)
    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """The spec file's name without extension."""
        return self._name

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v is None and k in cls.NULL_IS_DEFAULT)}
        return data

    @model_validator(mode="after")
    def _with_overrides(self) -> Self:
        if self.overrides:
            try:
                self.scenario = override(self.scenario, self.overrides)
            except ScenarioError as exc:
                raise in_context(exc, "overrides") from None
        self.check()
        return self

    def check(self) -> None:
        """Check the other fields against the (overridden) scenario; SpecError if wrong."""

    @classmethod
    def load(cls, source: str | Path) -> Self:
        """Read and validate the spec file ``source`` (see the module docstring)."""
        path = Path(source)
        return cls.from_file_data(read_yaml(path, f"{cls.KIND} spec", SpecError), path)

    @classmethod
    def from_file_data(cls, data: Any, path: Path) -> Self:
        """Validate ``data``, read from the spec file ``path``."""
        if not isinstance(data, dict):
            raise SpecError(f"{path}: a {cls.KIND} spec is a mapping with keys "
                            f"{', '.join(cls.model_fields)}; got {shown(data)}")
        spec = validated(cls, data, source=str(path), context={"folder": path.parent})
        spec._name = path.stem
        return spec
