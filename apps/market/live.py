"""Live market data for the realtime process: 0B ticks -> 1-minute bars and session figures.

`LiveBars` keeps one `MinuteAggregator` per instrument and trading day, collects the bars that
complete (on a later tick or on the clock), and exposes each code's session VWAP, 체결강도 and
opening range. Writing is left to the caller (`flush()` -> services.minute_bars_upsert, then a
`bar_update` push per written bar), so the process decides how often it touches the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from apps.core.live import publish_after_commit
from apps.market.aggregator import Bar, MinuteAggregator, TradeLike, epoch_ms
from apps.market.services import LoadResult, minute_bars_upsert
from krx import calendar


class CodedTrade(TradeLike, Protocol):
    @property
    def code(self) -> str: ...


@dataclass(frozen=True)
class SessionFigures:
    code: str
    day: dt.date
    volume: int
    value: int
    vwap: float | None
    strength: Decimal | None
    opening_range: tuple[int, int] | None


class LiveBars:
    def __init__(self, opening_range_minutes: int = 5) -> None:
        self.opening_range_minutes = opening_range_minutes
        self._aggs: dict[str, MinuteAggregator] = {}
        self._done: list[Bar] = []

    def _aggregator(self, code: str, moment: dt.datetime) -> MinuteAggregator | None:
        day = calendar.trading_day_of(moment)
        agg = self._aggs.get(code)
        if agg is not None and agg.session.day == day:
            return agg
        if not calendar.is_trading_day(day):
            return None
        if agg is not None and (last := agg.flush()) is not None:
            self._done.append(last)
        agg = MinuteAggregator(code, calendar.session(day), self.opening_range_minutes)
        self._aggs[code] = agg
        return agg

    def on_trade(self, tick: CodedTrade) -> Bar | None:
        """Feed one 0B tick; returns a bar it completed."""
        if tick.at is None:
            return None
        agg = self._aggregator(tick.code, tick.at)
        if agg is None:
            return None
        bar = agg.on_trade(tick)
        if bar is not None:
            self._done.append(bar)
        return bar

    def on_clock(self, now: dt.datetime) -> list[Bar]:
        """Close every bar whose minute is over at `now` (call it every second or so)."""
        now_ms = epoch_ms(now)
        closed = [bar for agg in self._aggs.values() if (bar := agg.on_clock(now_ms)) is not None]
        self._done.extend(closed)
        return closed

    def figures(self, code: str) -> SessionFigures | None:
        agg = self._aggs.get(code)
        if agg is None:
            return None
        return SessionFigures(
            code,
            agg.session.day,
            agg.volume,
            agg.value,
            agg.vwap,
            agg.strength,
            agg.opening_range,
        )

    def take_bars(self) -> list[Bar]:
        """Bars completed since the last call."""
        done, self._done = self._done, []
        return done

    def flush(self) -> LoadResult:
        """Write the completed bars (idempotent: a repeated bar overwrites itself), then push each
        one as `bar_update` to /ws/live (the chart pages), after the write committed."""
        bars = self.take_bars()
        result = minute_bars_upsert(bars, "live")
        for bar in bars:
            publish_after_commit("bar_update", bar_message(bar))
        return result


def bar_message(bar: Bar) -> dict[str, object]:
    """The `bar_update` payload: a closed minute bar, stamped at its end in KST (as the chart API)."""
    return {
        "code": bar.code,
        "time": bar.end.astimezone(calendar.KST).isoformat(),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "value": bar.value or 0,
    }
