"""An accelerated simulator rolls on to the next trading day after the close, so a demo keeps
living; at real speed, or with the option off, it idles through the night like the market."""

from __future__ import annotations

import datetime as dt

from apps.broker.simulator.dto import SessionPhase
from apps.broker.simulator.server import ServerConfig, SimClock, SimServer

from .engine_helpers import at, make

FRIDAY = dt.date(2025, 5, 30)
MONDAY = dt.date(2025, 6, 2)


def build(speed: float, enabled: bool = True) -> tuple[SimServer, list[float]]:
    wall = [0.0]
    start = at(15, 30, day=FRIDAY)
    ex = make(start)
    clock = SimClock(start, speed, monotonic=lambda: wall[0])
    server = SimServer(ex, ServerConfig(roll_on_after_close=enabled), clock=clock)
    return server, wall


def test_accelerated_clock_rolls_on_after_the_close_to_the_next_trading_day() -> None:
    server, wall = build(speed=60)
    server.step()
    assert not server.roll_on()  # 15:30: the close is not ten minutes behind yet
    wall[0] = 11.0  # 11 wall seconds at 60x: 15:41
    server.step()
    assert server.roll_on()
    ex = server.exchange
    # Over the weekend, five minutes before Monday's call auction; exchange and clock agree.
    assert ex.now() == at(8, 25, day=MONDAY)
    assert server.clock.now() == at(8, 25, day=MONDAY)
    assert ex.trading_day() == MONDAY and ex.phase() is SessionPhase.CLOSED
    wall[0] += 6.0  # six more simulated minutes: 08:31
    server.step()
    assert ex.phase() is SessionPhase.OPENING_AUCTION
    assert not server.roll_on()


def test_no_roll_on_at_real_speed_or_when_switched_off() -> None:
    for speed, enabled in ((1.0, True), (60.0, False)):
        server, wall = build(speed, enabled)
        wall[0] = 3_600.0
        server.step()
        assert not server.roll_on()
        assert server.exchange.trading_day() == FRIDAY
