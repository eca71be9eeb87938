"""Same numbers, bit for bit: the tables of every shipped scenario, one comparison and one
sweep hash to the digests stored in ``tests/regression/digests.json``.

A failure means results changed. If that was intended, regenerate the digests with
``.venv/bin/python -m tests.regression.digests --update`` in the same commit and say why in the
commit message and the issue note; otherwise the change is a bug.
"""

from __future__ import annotations

import pytest

from tests.regression import digests

STORED = digests.load()
CASES = digests.cases()


def test_every_case_has_a_digest() -> None:
    """The stored file and the list of cases agree (a new scenario needs its digest)."""
    assert sorted(STORED) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_digest_unchanged(name: str) -> None:
    """The case's tables are identical to the recorded ones."""
    assert CASES[name]() == STORED[name], (
        f"{name}: results changed; if intended, run "
        "'.venv/bin/python -m tests.regression.digests --update' and say why")
