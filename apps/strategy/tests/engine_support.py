"""Handmade market sequences for the engine's tests (pure: no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from apps.strategy.engine.base import StrategySettings
from apps.strategy.engine.events import Candidate, Event, NewsEvent, ScanEvent, TickEvent
from apps.strategy.engine.runner import REGISTRY, Engine, build_engine
from krx import KST

DAY = dt.date(2025, 1, 15)  # a Wednesday: the regular session 09:00–15:30 KST
CODE = "005930"


def at(h: int, m: int, s: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=KST)


def tick(h: int, m: int, s: int, price: int, qty: int = 10, code: str = CODE) -> TickEvent:
    return TickEvent(code, at(h, m, s), price, qty)


def settings(name: str, enabled: bool = True, version: int = 1, **params: Any) -> StrategySettings:
    values = REGISTRY[name].schema.defaults()
    values.update(params)
    return StrategySettings(name, version, enabled, 10_000_000, values)


def engine(**by_name: dict[str, Any]) -> Engine:
    """An engine of the named strategies with their defaults overridden, e.g.
    engine(opening_breakout={"top_n": 3})."""
    return build_engine({name: settings(name, **params) for name, params in by_name.items()})


def scan(
    rank: int = 2, news: int | None = 85, code: str = CODE, when: dt.datetime | None = None
) -> ScanEvent:
    cand = Candidate(code, "삼성전자", rank, 10**11, Decimal("2.5"), Decimal("3.1"), 10_000, news)
    return ScanEvent(when or at(9, 3), (cand,))


def news(score: int, when: dt.datetime | None = None, code: str = CODE) -> NewsEvent:
    return NewsEvent(code, when or at(9, 4), score, "headline", "test")


def opening(hold_last_bar_below: bool = False) -> list[Event]:
    """09:00–09:05: opening range high 10,100, low 9,950, VWAP ≈ 10,000; then the 09:06 and 09:07 bars
    close at 10,050 (above VWAP) — or the 09:07 bar at 9,900 (below) when `hold_last_bar_below`."""
    return [
        tick(9, 0, 0, 10_000, 1_000),
        tick(9, 1, 0, 10_100),
        tick(9, 2, 0, 9_950),
        tick(9, 3, 0, 10_000),
        tick(9, 4, 10, 10_000),
        tick(9, 5, 10, 10_050),
        tick(9, 6, 10, 9_900 if hold_last_bar_below else 10_050),
    ]


def run(eng: Engine, events: list[Event]) -> list:
    out = []
    for event in events:
        out.extend(eng.on_event(event))
    return out
