"""The exchange's clock is chosen explicitly: the wall clock, or the simulator's (with a fallback)."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from apps.broker.clock import SimulatorClock, WallClock, exchange_clock, reset_cache
from apps.broker.simulator.testing import simulator_in_thread
from krx import KST


def test_wall_clock_is_aware_utc() -> None:
    with time_machine.travel(datetime(2025, 2, 4, 1, 0, tzinfo=UTC), tick=False):
        assert WallClock().now() == datetime(2025, 2, 4, 10, 0, tzinfo=KST)
        assert WallClock().now().tzinfo is not None


def test_settings_choose_the_clock(settings) -> None:
    settings.KIWOOM_USE_SIMULATOR = False
    assert isinstance(exchange_clock(), WallClock)
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_BASE_URL = "http://127.0.0.1:9/"
    clock = exchange_clock()
    assert isinstance(clock, SimulatorClock)
    assert exchange_clock() is clock  # one clock (and one cached reading) per simulator URL
    settings.KIWOOM_BASE_URL = "http://127.0.0.1:10"
    assert exchange_clock() is not clock


def test_unreachable_simulator_falls_back_to_the_wall_clock() -> None:
    clock = SimulatorClock("http://127.0.0.1:9", timeout=0.2)  # discard port: nothing answers
    with time_machine.travel(datetime(2025, 2, 4, 1, 0, tzinfo=UTC), tick=False):
        assert clock.now() == datetime(2025, 2, 4, 1, 0, tzinfo=UTC)


def test_simulator_clock_reads_the_replayed_day() -> None:
    start = datetime(2025, 2, 4, 10, 0, tzinfo=KST)
    with simulator_in_thread(start=start) as sim:  # frozen clock: speed 0
        clock = SimulatorClock(sim.base_url)
        assert clock.now() == start
        sim.advance_sync(minutes=5)
        assert clock.now() == start  # a cached reading, until it is reset
        clock.reset()
        assert clock.now() == datetime(2025, 2, 4, 10, 5, tzinfo=KST)
        reset_cache()


def test_known_reading_is_none_while_the_simulator_does_not_answer() -> None:
    """Decisions on the exchange's time (the opening scan) must not act on the wall's time."""
    assert SimulatorClock("http://127.0.0.1:9").known_reading() is None
    wall = WallClock().known_reading()
    assert wall is not None and wall[1] == 1.0
