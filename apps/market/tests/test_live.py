"""LiveBars: per-code aggregation of broker ticks, clock-driven bar closing, writing."""

import datetime as dt
from dataclasses import dataclass

import pytest

from apps.broker.contract import Side
from apps.market.live import LiveBars
from apps.market.models import MinuteBar
from krx import calendar


@dataclass
class FakeTick:
    code: str
    at: dt.datetime | None
    price: int
    quantity: int
    aggressor: Side | None


def kst(d: int, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(2025, 2, d, hh, mm, ss, tzinfo=calendar.KST)


@pytest.mark.django_db
def test_ticks_become_bars_per_code_and_are_written() -> None:
    live = LiveBars()
    live.on_trade(FakeTick("005930", kst(3, 9, 0, 1), 70_000, 10, Side.BUY))
    live.on_trade(FakeTick("000660", kst(3, 9, 0, 2), 190_000, 5, Side.SELL))
    live.on_trade(FakeTick("005930", kst(3, 9, 0, 30), 70_100, 20, Side.SELL))
    assert live.on_clock(kst(3, 9, 0, 59)) == []
    closed = live.on_clock(kst(3, 9, 1, 0))
    assert sorted(b.code for b in closed) == ["000660", "005930"]
    figures = live.figures("005930")
    assert figures is not None and figures.volume == 30 and figures.strength == 50
    assert figures.opening_range == (70_100, 70_000)
    assert live.flush().changed == 2
    assert MinuteBar.objects.count() == 2
    assert live.take_bars() == []


def test_a_new_day_starts_a_new_session_and_holidays_are_ignored() -> None:
    live = LiveBars()
    live.on_trade(FakeTick("005930", kst(3, 15, 10), 70_000, 10, Side.BUY))
    live.on_trade(FakeTick("005930", kst(4, 9, 0, 5), 71_000, 10, Side.BUY))
    bars = live.take_bars()
    assert [b.end for b in bars] == [kst(3, 15, 11)]
    assert live.figures("005930").day == dt.date(2025, 2, 4)
    holiday = dt.datetime(2025, 1, 29, 10, 0, tzinfo=calendar.KST)
    assert live.on_trade(FakeTick("035720", holiday, 40_000, 1, Side.BUY)) is None
    assert live.figures("035720") is None
