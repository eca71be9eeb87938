"""The scenario file format as a Markdown reference, generated from the validation schema.

Every table below comes from the pydantic models that validate scenarios
(:mod:`sim.scenario.schema`, :mod:`sim.scenario.distributions`, :mod:`sim.scenario.allocation`):
field paths, types, defaults, constraints and descriptions (``Field(description=...)``, else the
model's docstring), so the reference cannot drift from the code. ``python -m
sim.scenario.reference`` rewrites ``docs/scenario-reference.md``; ``--check`` exits 1 when that file
is out of date; ``--stdout`` prints the text instead.
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.foundation.units import DAY, UNITS, format_duration
from sim.scenario import allocation, distributions, fields, loading, schema, size, yaml_io

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "scenario-reference.md"
COMMAND = "python -m sim.scenario.reference"


# --------------------------------------------------------------------------- reading types


@dataclass
class Kind:
    """What a field holds, read from its annotation and validators."""

    text: str
    """The type in words, with links to the sections of nested models."""
    models: list[tuple[str, type[BaseModel]]]
    """Nested models and the path suffix under which their fields appear."""
    constraints: list[str]


def _validators(metadata: Sequence[Any]) -> list[Callable[..., Any]]:
    return [m.func for m in metadata if isinstance(m, BeforeValidator | AfterValidator)]


def _bounds(metadata: Sequence[Any], duration: bool = False) -> list[str]:
    out = []
    for m in metadata:
        for name, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(m, name, None)
            if isinstance(m, annotated_types.BaseMetadata) and value is not None:
                shown = f"{value / DAY:g}d" if duration and value and value % DAY == 0 \
                    else f"{value:g}"
                out.append(f"{sign} {shown}")
        if isinstance(m, annotated_types.MinLen) and m.min_length:
            out.append(f"at least {m.min_length} item{'s' if m.min_length > 1 else ''}")
        if isinstance(m, annotated_types.MaxLen):
            out.append(f"at most {m.max_length} items")
        if isinstance(m, FieldInfo):
            out += _bounds(m.metadata, duration)
    return out


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _plural(text: str) -> str:
    return {"number": "numbers", "whole number": "whole numbers", "text": "texts",
            "day": "days"}.get(text, text)


def read_kind(annotation: Any, metadata: Sequence[Any] = (), suffix: str = "") -> Kind:
    """The type of a field in words, its constraints and the nested models it holds."""
    metadata = list(metadata)
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return read_kind(base, [*metadata, *extra], suffix)
    funcs = _validators(metadata)
    constraints = _bounds(metadata, duration=fields.parse_duration in funcs)
    if distributions.coerce_duration in funcs or distributions.coerce in funcs:
        what = "duration distribution" if distributions.coerce_duration in funcs else \
            "distribution"
        constraints += [f.describe() for f in funcs if isinstance(f, fields.Within)]
        return Kind(f"[{what}](#distributions)", [], constraints)
    if fields.sums_to_one in funcs:
        return Kind("shares: names → numbers ≥ 0", [], ["sum to 1"])
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            inner = read_kind(options[0], metadata, suffix)
            return Kind(inner.text + " or null", inner.models, inner.constraints)
        return Kind(" or ".join(read_kind(o).text for o in options), [], constraints)
    if origin is Literal:
        return Kind("one of " + ", ".join(f"`{v}`" for v in get_args(annotation)), [],
                    constraints)
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = read_kind(args[0], (), suffix + "[]")
            text = f"list of {_plural(inner.text)}"
            if inner.text.startswith("one of "):
                text = "list of values among " + inner.text.removeprefix("one of ")
            if schema._as_list in funcs:
                text = f"{inner.text}, or a list of them"
            return Kind(text, inner.models, constraints + inner.constraints)
        parts = [read_kind(a).text for a in args]
        return Kind(f"pair [{', '.join(parts)}]", [], constraints)
    if origin is dict:
        key_name = "<name>"
        inner = read_kind(get_args(annotation)[1], (), f"{suffix}.{key_name}")
        return Kind(f"mapping: names → {inner.text}", inner.models,
                    constraints + inner.constraints)
    if annotation is allocation.AllocationConfig:
        return Kind("[allocation rule](#allocation-rules)", [], constraints)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return Kind(f"[{annotation.__name__}](#{_anchor(annotation)})",
                    [(suffix, annotation)], constraints)
    if fields.parse_duration in funcs:
        return Kind("duration", [], constraints)
    names = {bool: "true or false", int: "whole number", float: "number", str: "text"}
    if annotation in names:
        return Kind(names[annotation], [], constraints)
    return Kind(getattr(annotation, "__name__", str(annotation)), [], constraints)


# --------------------------------------------------------------------------- defaults


def _value(value: Any, duration: bool = False) -> str:
    if isinstance(value, distributions.Constant):
        return _value(value.value, duration)
    if isinstance(value, allocation.AllocationConfig):
        params = ", ".join(f"{k}: {v}" for k, v in (value.model_extra or {}).items())
        return f"`{{rule: {value.rule}{', ' + params if params else ''}}}`"
    if isinstance(value, BaseModel):
        return "all defaults"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        if duration and math.isfinite(value):
            return f"`{format_duration(float(value))}`"
        return f"`{value:g}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    if isinstance(value, tuple | list):
        if not value:
            return "`[]`"
        if len(value) > 3 and len(set(value)) == 1:
            return f"{len(value)} times `{_value(value[0]).strip('`')}`"
        return "`[" + ", ".join(_value(v).strip("`") for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{dict(value)}`"
    return f"`{value}`"


def default_text(info: FieldInfo, kind: Kind) -> str:
    """The default of a field in words ("required" when it has none)."""
    if info.default_factory is not None:
        value = info.default_factory()
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None:
        return "none"
    return _value(value, duration="duration" in kind.text)


# --------------------------------------------------------------------------- walking models


def _doc(obj: Any) -> str:
    """A docstring as Markdown: reST literals to backticks, paragraphs kept."""
    doc = inspect.cleandoc(obj.__doc__ or "")
    return doc.replace("``", "`").replace(":func:", "").replace(":class:", "")


def _first_sentence(text: str) -> str:
    first = " ".join(text.split("\n\n")[0].split())
    end = first.find(". ")
    return first if end < 0 else first[: end + 1]


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


@dataclass
class Section:
    path: str
    model: type[BaseModel]


def walk(model: type[BaseModel], path: str = "") -> Iterator[Section]:
    """Every model reachable from ``model``, depth first, with the path of its fields."""
    yield Section(path, model)
    for name, info in model.model_fields.items():
        kind = read_kind(info.annotation, info.metadata)
        for suffix, nested in kind.models:
            key = name.removesuffix("s") if suffix.endswith(".<name>") else name
            suffix = suffix.replace("<name>", f"<{key}>")
            prefix = f"{path}.{name}" if path else name
            yield from walk(nested, prefix + suffix)


def field_table(model: type[BaseModel], path: str) -> str:
    """One row per field of ``model``: path, type, default, constraints, description."""
    rows = ["| Field | Type | Default | Constraints | Description |",
            "| --- | --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        key = info.alias or name
        kind = read_kind(info.annotation, info.metadata)
        full = f"{path}.{key}" if path else key
        description = info.description or ""
        if not description and kind.models:  # a section: say what it holds
            description = _first_sentence(_doc(kind.models[0][1]))
        rows.append("| " + " | ".join(_cell(c) for c in (
            f"`{full}`", kind.text, default_text(info, kind), ", ".join(kind.constraints),
            description)) + " |")
    return "\n".join(rows)


# --------------------------------------------------------------------------- the page

INTRO = f"""\
# Scenario file reference

<!-- Generated by `{COMMAND}` from the validation schema (sim/scenario/schema.py,
sim/scenario/distributions.py, sim/scenario/allocation.py). Do not edit: change the schema and run
the command; tests/test_reference.py fails when this file is out of date. -->

A scenario is a YAML file (or a dict given to `sim.load_scenario`) describing a whole market.
It is validated once into an immutable `Scenario`; any error names the field path, the value
and what is allowed. Every section's fields are listed below with their type, default and
constraints; the last two sections list the [distributions](#distributions) and the
[allocation rules](#allocation-rules).

Conventions:

- **Unknown keys are errors**, so a typo is never silently ignored. Top-level keys starting
  with `x-` are the exception: they hold YAML anchors (`&name`) reused elsewhere in the file
  and are dropped.
- **Durations** are seconds or strings with a unit: {", ".join(f'`"1{u}"`' for u in UNITS)}
  (for example `"90s"`, `"5min"`, `"2h"`, `"30d"`). The clock starts on a Monday at midnight.
- **Distributions** are written `{{dist: NAME, ...}}`; a bare number means a constant. Duration
  distributions accept duration strings in their parameters.
- **Numbers** are finite: NaN and infinity (`.nan`, `.inf`, `1e400`) are refused everywhere.
  `1e12` is a number (as in YAML 1.2). A field's constraints are checked against every value
  its distribution can draw: a speed that can be 0, a probability above 1 or a negative
  duration is refused, not clipped.
- **Shares** are mappings of names to numbers in [0, 1] that sum to 1 (within
  {fields.SHARE_TOLERANCE:g}); `task_mix` and a profile's `regions` need at least one entry.
- **Limits**: files are read safely (no Python objects) and bounded: at most
  {yaml_io.MAX_DOCUMENT_BYTES // 1024:,} KiB, {yaml_io.MAX_DEPTH} levels of nesting and
  {yaml_io.MAX_NODES:,} values once YAML aliases are expanded. Before a run, its size is
  estimated (workers, session draws, batches, tasks, memory: `microwork validate` prints it);
  a run estimated above {size.DEFAULT_MAX_MEMORY / size.GIB:g} GiB of memory is refused
  unless the limit is raised deliberately (`--max-memory`, `max_memory=`).
- **A scenario from another**: a file with `extends: other.yaml` (a file in the same folder)
  starts from that scenario, applies its `changes` (dotted paths, as `--set`), then replaces
  the top-level keys it sets itself (`name`, `description`, ...); chains are allowed up to
  {loading.MAX_EXTENDS} files. `scenarios/platforms_market.yaml` extends `baseline.yaml`.
- **Paths**: `<profile>` stands for a name you choose (a key of the mapping), `[]` for an item
  of a list. `sim.override` and `--set` address fields by the same dotted paths, with list
  items by index: `profiles.employee.sessions.0.probability`.
"""


def _section(section: Section) -> str:
    model = section.model
    title = f"`{section.path}`" if section.path else "Top level"
    body = [f'<a id="{_anchor(model)}"></a>', "", f"## {title} ({model.__name__})", "",
            _doc(model), "", field_table(model, section.path)]
    return "\n".join(body)


def _distributions() -> str:
    union = get_args(get_args(distributions.Distribution)[0])
    parts = ['<a id="distributions"></a>', "", "## Distributions", "",
             _doc(distributions).split("\n\n")[0], "",
             "A field typed *distribution* takes `{dist: NAME, ...}` with the parameters of "
             "one of these (a bare number is a `constant`); a *duration distribution* also "
             "accepts durations with units in its parameters. Each worker, batch or task "
             "draws its own value. Parameters are finite numbers of magnitude at most "
             f"{distributions.MAX_MAGNITUDE:g}; a lognormal's `sigma` is at most "
             f"{distributions.MAX_SIGMA:g} and a Pareto without `max` needs `alpha` ≥ "
             f"{distributions.MIN_UNTRUNCATED_ALPHA:g} (beyond these, draws overflow)."]
    for cls in union:
        name = get_args(cls.model_fields["dist"].annotation)[0]
        parts += ["", f"### `{name}`", "", _doc(cls), "",
                  field_table(cls, "").replace(f"| `dist` | one of `{name}` |",
                                               f"| `dist` | `{name}` |")]
    return "\n".join(parts)


def _rules() -> str:
    parts = ['<a id="allocation-rules"></a>', "", "## Allocation rules (`platform.allocation`)",
             "", "A rule says who gets a task when several workers want it: how long after a "
             "release it collects candidates (`window`; first come, first served has none: the "
             "first to arrive takes the task) and which of the collected candidates win.",
             "", "`platform.allocation` takes the rule's name and that rule's own parameters, "
             "for example `{rule: lottery, window: 5min}`. Registered rules: "
             + ", ".join(f"`{name}`" for name in allocation.RULE_PARAMS) + "."]
    for name, spec in allocation.RULE_PARAMS.items():
        parts += ["", f"### `{name}`", "", _cell(spec.description)]
        params = spec.params
        if params.model_fields:
            parts += ["", _doc(params), "", field_table(params, "platform.allocation")]
        else:
            parts += ["", "No parameters."]
    return "\n".join(parts)


def render() -> str:
    """The whole reference as Markdown."""
    sections = [_section(section) for section in walk(schema.Scenario)]
    text = "\n\n".join([INTRO.rstrip(), *sections, _distributions(), _rules()])
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (default), print (``--stdout``) or check (``--check``) the reference."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="file to write")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    group.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
