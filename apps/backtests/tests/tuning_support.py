"""Stored bars and a request body for the tuning tests (four trading days of one code; a different wave
each day so that parameter sets score differently)."""

from __future__ import annotations

from typing import Any

from apps.market.models import MinuteBar
from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory
from krx import calendar

from .bars import DAY, path_bars, wave

CODE = "005930"


def tuning_days(n: int = 4) -> list:
    days = [DAY]
    while len(days) < n:
        days.append(calendar.next_trading_day(days[-1]))
    return days


DAYS = tuning_days()


def store_bars(days: list | None = None) -> list:
    days = days or DAYS
    InstrumentFactory(code=CODE, name="삼성전자")
    MinuteBar.objects.bulk_create(
        [
            MinuteBarFactory.build(
                instrument_id=CODE, time=b.end, open=b.open, high=b.high, low=b.low,
                close=b.close, volume=b.volume,
            )
            for i, day in enumerate(days)
            for b in path_bars(CODE, wave(amp=15 + 5 * i, period=30 + 10 * i), day)
        ]
    )  # fmt: skip
    return days


def body(**kw: Any) -> dict[str, Any]:
    """10 parameter sets × 2 windows (2 in-sample days, 1 out-of-sample day, step 1) = 20 trials."""
    out: dict[str, Any] = {
        "strategy": "ma_cross",
        "date_from": str(DAYS[0]),
        "date_to": str(DAYS[-1]),
        "codes": [CODE],
        "ranges": {"fast": {"values": [3, 5]}, "slow": {"min": 10, "max": 30, "step": 5}},
        "method": "grid",
        "objective": "total_pnl",
        "in_sample_days": 2,
        "out_sample_days": 1,
    }
    out.update(kw)
    return out
