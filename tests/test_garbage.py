"""The collector pause of a run's setup (sim.foundation.garbage)."""

import gc

import pytest

from sim.foundation.garbage import collector_paused, thawed_after


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_pauses_nest_and_restore_an_enabled_collector():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_exception_ends_the_pause():
    gc.enable()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_frozen_state_is_collectable_again_afterwards():
    with collector_paused(freeze=True):
        kept = [object() for _ in range(10)]
    assert gc.get_freeze_count() >= len(kept)
    with thawed_after():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0


def test_a_failed_setup_freezes_nothing_and_a_failed_run_thaws():
    with pytest.raises(ValueError), collector_paused(freeze=True):
        raise ValueError("boom")
    assert gc.get_freeze_count() == 0
    with collector_paused(freeze=True):
        pass
    with pytest.raises(ValueError), thawed_after():
        raise ValueError("boom")
    assert gc.get_freeze_count() == 0
