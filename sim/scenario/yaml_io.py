"""Reading untrusted YAML safely and within bounds.

Scenario files, spec files and ``--set`` values come from users and may be careless or hostile.
:func:`read_yaml` and :func:`parse_yaml` use PyYAML's safe loader (no Python objects), and
bound what a document may cost before it is turned into Python values:

* at most :data:`MAX_DOCUMENT_BYTES` bytes, UTF-8 text (a binary file is refused);
* at most :data:`MAX_DEPTH` levels of nested mappings and lists (deeper documents would
  exhaust the parser's recursion);
* at most :data:`MAX_NODES` values once aliases are expanded: a 400-byte file of nested
  ``&anchors`` and ``*aliases`` ("billion laughs") otherwise stands for billions of values.

Numbers are read as YAML 1.2 reads them: ``1e12`` is a number (YAML 1.1, PyYAML's default, reads
it as the text "1e12" because it lacks a decimal point).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sim.foundation.errors import MicroworkError, ScenarioError

MAX_DOCUMENT_BYTES = 1 << 20
"""Largest YAML document read (1 MiB; the shipped scenarios are about 10 kB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists."""
MAX_NODES = 200_000
"""Most values a document may stand for once its aliases are expanded."""


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader with a depth limit while composing and YAML 1.2 exponent floats."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, refusing to nest deeper than :data:`MAX_DEPTH`."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _expanded_size(node: yaml.Node, limit: int) -> int:
    """Number of values ``node`` stands for with every alias expanded, stopping past ``limit``
    (shared nodes are counted once per use, computed once each)."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        sizes[key] = limit + 1  # a node inside itself (recursive alias) counts as too many
        total = 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
                if total > limit:
                    break
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                total += size(item)
                if total > limit:
                    break
        sizes[key] = total
        return total

    return size(node)


def parse_yaml(text: str, where: str, error: type[MicroworkError] = ScenarioError) -> Any:
    """Parse one YAML document of ``text`` within the bounds above; ``where`` names the source
    in error messages (a file, ``--set``), raised as ``error``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise error(f"{where}: larger than {MAX_DOCUMENT_BYTES:,} bytes; a scenario or spec is "
                    "a few kilobytes")
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_NODES) > MAX_NODES:
            raise error(f"{where}: its aliases (*name) expand to more than {MAX_NODES:,} values; "
                        "refusing to read it (an alias may repeat a value, not multiply it)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise error(f"{where}: nested too deeply to read") from None
    finally:
        loader.dispose()


def _one_line(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: the problem and where it is ("line 3, column 5")."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


def read_yaml(path: str | Path, what: str, error: type[MicroworkError] = ScenarioError) -> Any:
    """Read and parse the YAML file ``path`` (``what`` says what it should be, for messages):
    an unreadable, oversized, binary or non-UTF-8 file, or bad YAML, raises ``error`` naming
    the file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise error(f"{path}: larger than {MAX_DOCUMENT_BYTES:,} bytes; not a {what}")
    if b"\x00" in data:
        raise error(f"{path}: a binary file, not a {what} (YAML text)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); a {what} is a UTF-8 YAML "
                    "file") from None
    return parse_yaml(text, str(path), error)
