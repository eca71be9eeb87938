"""Issue 9, defects 5 and 8: untrusted YAML is read safely and within bounds, and every bad
file gives ``error:`` and exit status 2, never a traceback, a hang or gigabytes of output."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.scenario import yaml_io as safe_yaml

BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                 + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                    for p, c in zip("abcdefgh", "bcdefghi", strict=True)])


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["validate", str(path)])
    return status, capsys.readouterr().err


def test_alias_bomb_is_refused_quickly(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    """A few hundred bytes of nested aliases standing for 9**9 values: refused at once, with a
    short message (before the fix the message alone was 39 MB at 7 levels)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 500
    started = time.perf_counter()
    status, err = _validate(path, capsys)
    assert time.perf_counter() - started < 5
    assert status == 2 and "aliases" in err and len(err) < 500


def test_aliases_that_repeat_values_are_fine(tmp_path: Path) -> None:
    """The shipped scenarios reuse anchors (x-engagement): that stays allowed."""
    text = "x-a: &a {dist: constant, value: 1}\nb: [*a, *a, *a]\n"
    assert safe_yaml.parse_yaml(text, "t")["b"][2] == {"dist": "constant", "value": 1}


def test_deep_nesting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """YAML nested thousands of levels deep: error, not RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000)
    status, err = _validate(path, capsys)
    assert status == 2 and "nested" in err and "Traceback" not in err


@pytest.mark.parametrize(("content", "text"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("horizon: 3d\nname: caf\xe9\n".encode("latin-1"), "UTF-8"),
    (b"a: " + b"x" * (safe_yaml.MAX_DOCUMENT_BYTES + 10), "larger than"),
    (b"horizon: [unclosed\n", "not valid YAML"),
])
def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
                          text: str) -> None:
    """Binary, non-UTF-8, oversized and broken files: one ``error:`` line naming the file."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    status, err = _validate(path, capsys)
    assert status == 2 and text in err and str(path) in err, err
    assert err.count("\n") == 1, err


def test_unrelated_file_is_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A spec whose ``scenario:`` points at an unrelated text file: the error does not print
    that file's contents."""
    secret = tmp_path / "notes.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n" + "secret line\n" * 500)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"scenario: {secret}\nvariants: {{a: {{}}}}\n")
    status = main(["compare", str(spec), "--replications", "2", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and "mapping" in err
    assert err.count("secret line") <= 1 and len(err) < 500


def test_exponent_without_a_point_is_a_number(tmp_path: Path) -> None:
    """YAML 1.1 reads ``1e3`` as text; microwork reads it as YAML 1.2 does, a number."""
    assert safe_yaml.parse_yaml("a: 1e3\nb: -2.5E-1\nc: '1e3'\nd: 1_000\n", "t") == {
        "a": 1000.0, "b": -0.25, "c": "1e3", "d": 1000}
    path = tmp_path / "s.yaml"
    path.write_text(Path("scenarios/baseline.yaml").read_text().replace(
        "workers: 2000", "workers: 2e3"))
    assert sim.load_scenario(path).workers == 2000


def test_python_objects_are_never_built(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """The safe loader refuses Python tags."""
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['true']\n")
    status, err = _validate(path, capsys)
    assert status == 2 and "not valid YAML" in err
