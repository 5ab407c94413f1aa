"""Builders shared by the engine tests (not a conftest: the protocol tests live in this folder)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from krx import KST

ACCOUNT = "5000000010"
OTHER = "5000000020"
DAY = dt.date(2025, 6, 2)  # a Monday
CODES = ("005930", "035720", "060310", "247540")


def at(hh: int, mm: int, ss: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=KST)


def make(start: dt.datetime | None = None, **kw: Any) -> Exchange:
    kw.setdefault("codes", CODES)
    kw.setdefault("accounts", (ACCOUNT, OTHER))
    kw.setdefault("use_krx_calendar", False)
    kw.setdefault("seed", 7)
    return Exchange(ExchangeConfig(start=start or at(9, 0), **kw))
