"""Per-code market state the strategies read: 1-minute bars, session VWAP, the opening range, last price.

Fed by `TickEvent`s (live, paper) and `BarEvent`s (warm-up after a restart, backtests on minute bars),
closed by the exchange time of the ticks (a tick of a later minute closes the open bar) or by a
`ClockEvent` when no tick comes. The bar convention is `apps.market.aggregator`'s, so bars built here
equal the stored ones: a bar is labelled with the END of its minute, the opening-auction print (09:00:00)
falls in the 09:01 bar, everything from the closing auction until a minute after the close is the one
closing bar labelled with the close; ticks outside [open, close + 1 min) are off-session and ignored.

VWAP is the session's: Σ price × quantity / Σ quantity over the day's regular-session ticks (a bar fed as
a `BarEvent` counts with its traded value, else its typical price × volume). The opening range of M
minutes is the high and low of the ticks before open + M minutes (the bars ending at or before it), so
any M can be asked for at any time (a parameter change mid-session needs no replay).

Times on the hot path are integer epoch milliseconds (UTC). Prices are integer KRW; VWAP is a float
(an indicator, not an amount). Sessions come from `krx.calendar` (the XKRX calendar with the late opens)
unless a `session_of` is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from krx import KST, Session

__all__ = ["CodeState", "Market", "MinuteBar", "epoch_ms", "ms_to_datetime"]

MINUTE_MS = 60_000
_CLOSE_PRINT_WINDOW_MS = 60_000
_DAY_MS = 86_400_000

SessionOf = Callable[[dt.date], Session | None]


def epoch_ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return int(moment.timestamp() * 1000)


def ms_to_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


# Seoul time has been UTC+9 without daylight saving since this moment (1988-10-09 02:00 KST, the
# end of the last summer time); before it, the zone database decides.
_KST_FIXED_SINCE_MS = 592_333_200_000


def kst_hhmm(ms: int) -> str:
    """The Seoul wall-clock minute of `ms` as "HHMM" (signal keys): integer arithmetic where the
    offset is fixed, a fifth of the cost of a zone conversion and strftime."""
    if ms >= _KST_FIXED_SINCE_MS:
        minute = (ms // MINUTE_MS + 540) % 1440
        return f"{minute // 60:02d}{minute % 60:02d}"
    return f"{ms_to_datetime(ms).astimezone(KST):%H%M}"


def krx_session(day: dt.date) -> Session | None:
    """The day's KRX session, None on a non-trading day."""
    from krx import calendar

    try:
        return calendar.session(day)
    except calendar.NotATradingDay:
        return None


class MinuteBar(NamedTuple):
    """A closed 1-minute bar and the session VWAP at its close (this bar included)."""

    end_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    vwap: float


# `MinuteBar(...)` through the tuple constructor itself: the named tuple's generated `__new__` is a
# Python function, one frame more per bar on the hot path.
_new_bar = tuple.__new__


class CodeState:
    """One code on one trading day. Read by strategies; written only by `Market`."""

    __slots__ = (
        "_bar_close",
        "_bar_end",
        "_bar_high",
        "_bar_low",
        "_bar_open",
        "_bar_value",
        "_bar_volume",
        "_or_cache",
        "auction_ms",
        "bars",
        "change_pct",
        "close_ms",
        "code",
        "cum_value",
        "cum_volume",
        "day",
        "day_end_ms",
        "day_start_ms",
        "emitted_end",
        "ignored_ticks",
        "last_ms",
        "last_price",
        "open_ms",
        "stop_ms",
    )

    def __init__(self, code: str, session: Session) -> None:
        self.code = code
        self.day = session.day
        self.open_ms = epoch_ms(session.open)
        self.auction_ms = epoch_ms(session.closing_auction)
        self.close_ms = epoch_ms(session.close)
        self.stop_ms = self.close_ms + _CLOSE_PRINT_WINDOW_MS
        midnight = dt.datetime.combine(session.day, dt.time(0), tzinfo=KST)
        self.day_start_ms = epoch_ms(midnight)
        self.day_end_ms = self.day_start_ms + _DAY_MS
        self._bar_end = 0
        self._bar_open = self._bar_high = self._bar_low = self._bar_close = 0
        self._bar_volume = self._bar_value = 0
        self.emitted_end = 0
        self.bars: list[MinuteBar] = []
        self.cum_volume = 0
        self.cum_value = 0
        self.last_price: int | None = None
        self.last_ms = 0
        self.change_pct: Decimal | None = None
        self.ignored_ticks = 0
        self._or_cache: dict[int, tuple[int, int]] = {}

    # ---------------------------------------------------------------------------- reads
    @property
    def vwap(self) -> float | None:
        return self.cum_value / self.cum_volume if self.cum_volume else None

    def opening_range_end_ms(self, minutes: int) -> int:
        return self.open_ms + minutes * MINUTE_MS

    def opening_range(self, minutes: int) -> tuple[int, int] | None:
        """(high, low) of the first `minutes` minutes, once they are over (None before, or when
        nothing traded in them)."""
        hit = self._or_cache.get(minutes)
        if hit is not None:
            return hit
        end = self.open_ms + minutes * MINUTE_MS
        if self.last_ms < end:
            return None
        high = low = None
        for bar in self.bars:
            if bar.end_ms > end:
                break
            if high is None or bar.high > high:
                high = bar.high
            if low is None or bar.low < low:
                low = bar.low
        if self._bar_end and self._bar_end <= end:  # the range's last bar, not closed yet
            high = self._bar_high if high is None else max(high, self._bar_high)
            low = self._bar_low if low is None else min(low, self._bar_low)
        if high is None or low is None:
            return None
        self._or_cache[minutes] = (high, low)
        return high, low

    def building(self, end_ms: int) -> bool:
        """Is the bar ending at `end_ms` the one ticks are filling now?"""
        return self._bar_end == end_ms and end_ms != 0

    def last_bar(self) -> MinuteBar | None:
        return self.bars[-1] if self.bars else None

    # ---------------------------------------------------------------------------- writes
    # The hot path: kept flat on purpose (no helper calls per tick) for the throughput goal.
    def on_tick(self, ts_ms: int, price: int, qty: int) -> MinuteBar | None:
        """Count one trade; returns the bar it closed (a tick of a later minute), else None."""
        if ts_ms < self.open_ms or ts_ms >= self.stop_ms:
            self.ignored_ticks += 1
            return None
        if qty < 0:
            qty = -qty
        amount = price * qty
        self.cum_volume += qty
        self.cum_value += amount
        self.last_price = price
        if ts_ms > self.last_ms:
            self.last_ms = ts_ms
        end = self.close_ms if ts_ms >= self.auction_ms else ts_ms - ts_ms % MINUTE_MS + MINUTE_MS
        if end == self._bar_end:
            if price > self._bar_high:
                self._bar_high = price
            elif price < self._bar_low:
                self._bar_low = price
            self._bar_close = price
            self._bar_volume += qty
            self._bar_value += amount
            return None
        if end < self._bar_end or end <= self.emitted_end:
            return None  # late: counted in VWAP, never rewrites a bar
        done = self._emit() if self._bar_end else None
        self._bar_end = end
        self._bar_open = self._bar_high = self._bar_low = self._bar_close = price
        self._bar_volume = qty
        self._bar_value = amount
        return done

    def on_clock(self, now_ms: int) -> MinuteBar | None:
        """Close the open bar if its minute is over (the closing bar waits for the auction print)."""
        if not self._bar_end:
            return None
        due = self._bar_end if self._bar_end != self.close_ms else self.stop_ms
        if now_ms > self.last_ms:
            self.last_ms = min(now_ms, self.stop_ms)
        return self._emit() if now_ms >= due else None

    def on_bar(
        self, end_ms: int, o: int, h: int, low: int, c: int, volume: int, value: int | None
    ) -> MinuteBar | None:
        """Count a whole bar (warm-up, backtests). Returns it as closed, or None when it is older than
        what was already closed. A bar for the minute ticks are filling replaces that partial bar."""
        if end_ms <= self.emitted_end or end_ms <= self.open_ms or end_ms > self.stop_ms:
            return None
        if value is None or value <= 0:
            value = (h + low + c) * volume // 3
        if self._bar_end:
            if self._bar_end < end_ms:
                self._emit()
            elif self._bar_end == end_ms:  # replace the partial bar's share of the session figures
                self.cum_volume -= self._bar_volume
                self.cum_value -= self._bar_value
                self._bar_end = 0
        # The bar closes at once: `_emit` inlined (the hot path of a backtest on minute bars).
        self.cum_volume = cum_volume = self.cum_volume + volume
        self.cum_value = cum_value = self.cum_value + value
        self.last_price = c
        if end_ms > self.last_ms:
            self.last_ms = end_ms
        vwap = cum_value / cum_volume if cum_volume else float(c)
        bar = _new_bar(MinuteBar, (end_ms, o, h, low, c, volume, value, vwap))
        self.bars.append(bar)
        self.emitted_end = end_ms
        self._bar_end = 0  # no open bar (the `_bar_*` figures are read only while one is open)
        return bar

    def _emit(self) -> MinuteBar:
        vwap = self.cum_value / self.cum_volume if self.cum_volume else float(self._bar_close)
        bar = _new_bar(
            MinuteBar,
            (
                self._bar_end,
                self._bar_open,
                self._bar_high,
                self._bar_low,
                self._bar_close,
                self._bar_volume,
                self._bar_value,
                vwap,
            ),
        )
        self.bars.append(bar)
        self.emitted_end = self._bar_end
        self._bar_end = 0
        return bar


class Market:
    """Every code's state for its current trading day. A code's state starts afresh on a new day."""

    def __init__(self, session_of: SessionOf | None = None) -> None:
        self.session_of: SessionOf = session_of or krx_session
        self.states: dict[str, CodeState] = {}
        self._sessions: dict[dt.date, Session | None] = {}

    def state(self, code: str) -> CodeState | None:
        return self.states.get(code)

    def state_at(self, code: str, ts_ms: int) -> CodeState | None:
        """The code's state for the trading day of `ts_ms` (a new one on a new day; None on a day
        without a session)."""
        state = self.states.get(code)
        if state is not None and state.day_start_ms <= ts_ms < state.day_end_ms:
            return state
        day = ms_to_datetime(ts_ms).astimezone(KST).date()
        if day not in self._sessions:
            self._sessions[day] = self.session_of(day)
        session = self._sessions[day]
        if session is None:
            return None
        if state is not None and state.day > day:
            return None  # an event of an earlier day than the state's: too late to matter
        state = CodeState(code, session)
        self.states[code] = state
        return state

    def missing_before(self, code: str, at: dt.datetime) -> bool:
        """Are whole minutes of the session before `at` (a tick's time) missing from the code's bars?
        True when `at`'s minute starts after the open and after the latest bar the state has (closed
        or being filled): the minutes in between were never seen here."""
        ts_ms = epoch_ms(at)
        state = self.state_at(code, ts_ms)
        if state is None or ts_ms >= state.stop_ms:
            return False
        minute = ts_ms - ts_ms % MINUTE_MS
        return minute > max(state.open_ms, state.emitted_end, state._bar_end)

    def on_clock(self, now_ms: int) -> list[tuple[CodeState, MinuteBar]]:
        closed = []
        for state in self.states.values():
            bar = state.on_clock(now_ms)
            if bar is not None:
                closed.append((state, bar))
        return closed
