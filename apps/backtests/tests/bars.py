"""Handmade minute bars for the backtest tests (a deterministic path on the KRX tick grid)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from apps.strategy.engine.events import BarEvent
from krx import KST, calendar

DAY = dt.date(2025, 3, 4)


def minute_ends(day: dt.date = DAY) -> list[dt.datetime]:
    """The bar ends of a regular session: open+1 … the last continuous minute, then the close."""
    session = calendar.session(day)
    out = []
    at = session.open + dt.timedelta(minutes=1)
    while at <= session.closing_auction:
        out.append(at)
        at += dt.timedelta(minutes=1)
    out.append(session.close)
    return out


def path_bars(
    code: str,
    price_at: Callable[[int], int],
    day: dt.date = DAY,
    volume: int = 10_000,
    tick: int = 100,
) -> list[BarEvent]:
    """One bar per minute; open = the previous close, close = price_at(i) (on a `tick` grid)."""
    out = []
    prev = price_at(0)
    for i, end in enumerate(minute_ends(day)):
        close = price_at(i)
        o = prev
        out.append(
            BarEvent(code, end, o, max(o, close) + tick, min(o, close) - tick, close, volume)
        )
        prev = close
    return out


def wave(
    base: int = 70_000, amp: int = 20, period: int = 40, tick: int = 100
) -> Callable[[int], int]:
    return lambda i: base + tick * round(amp * math.sin(2 * math.pi * i / period))


def at(day: dt.date, hhmm: str) -> dt.datetime:
    h, m = hhmm.split(":")
    return dt.datetime.combine(day, dt.time(int(h), int(m)), tzinfo=KST)
