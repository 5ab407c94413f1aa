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


def test_overlapping_orders_never_keep_the_collector_off_for_good(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from apps.core import gcpause

    collected: list[int] = []
    monkeypatch.setattr(gcpause.gc, "collect", lambda generation=2: collected.append(generation))
    clock = [1000.0]
    monkeypatch.setattr(gcpause.time, "monotonic", lambda: clock[0])
    with paused():
        clock[0] += 1.0
        with paused():
            pass
        assert collected == []
        clock[0] += gcpause.MAX_PAUSE_SECONDS + 1
        with paused():
            pass
        assert collected == [1]
    assert gc.isenabled()


def test_freeze_after_start_freezes_now_and_once_more_later(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`run_realtime` and `kiwoom_sim`: the start-up heap frozen at once (after a collection), what
    the first minute built frozen then without one."""
    import asyncio

    from apps.core import gcpause

    calls: list[bool] = []
    monkeypatch.setattr(gcpause, "freeze", lambda collect=True: calls.append(collect))
    monkeypatch.setattr(gcpause, "FREEZE_AFTER_START_SECONDS", 0.01)

    async def run() -> None:
        gcpause.freeze_after_start(asyncio.get_running_loop())
        assert calls == [True]
        await asyncio.sleep(0.05)

    asyncio.run(run())
    assert calls == [True, False]
