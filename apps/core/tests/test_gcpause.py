"""`apps.core.gcpause`: the collector is off while any order is in flight, and back on after the last."""

from __future__ import annotations

import gc

import pytest

from apps.core.gcpause import freeze, paused


def test_paused_nests_and_restores() -> None:
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer order is still in flight
    assert gc.isenabled()


def test_paused_restores_after_an_error() -> None:
    with pytest.raises(RuntimeError), paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_freeze_moves_the_heap_to_the_permanent_generation() -> None:
    try:
        freeze()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
