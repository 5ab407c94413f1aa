"""Tick-to-bar aggregation: 1-minute bars, session VWAP, 체결강도 and the opening range.

`MinuteAggregator` is the streaming form used by the realtime process (one per instrument and
session, fed with 0B ticks); `resample_ticks` is the vectorised form over a whole tick table,
used by backtests and as the reference the streaming form is tested against. Both follow the
bar convention of `calendar.Session.minute_bar_ends`: a bar is labelled with its END minute,
the opening-auction print (09:00:00) falls in the 09:01 bar, and everything from the start of
the closing auction until a minute after the close (the auction print is stamped 15:30:0x)
is the single closing bar labelled 15:30. Ticks outside [open, close + 1 min) are off-session
(시간외) and are not part of the regular bars.

Ticks carry a signed quantity as Kiwoom's FID 15 does: positive = buyer-initiated,
negative = seller-initiated. Timestamps on the hot path are integer epoch milliseconds (UTC).
Prices and traded values are integer KRW; VWAP is an indicator and is a float.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import numpy as np
import pandas as pd

from krx import Session

_MINUTE_MS = 60_000
_CLOSE_PRINT_WINDOW_MS = 60_000
_PCT = Decimal("0.01")


def epoch_ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


class TradeLike(Protocol):
    @property
    def at(self) -> dt.datetime | None: ...
    @property
    def price(self) -> int | None: ...
    @property
    def quantity(self) -> int: ...
    @property
    def aggressor(self) -> object | None: ...


@dataclass(frozen=True, slots=True)
class Bar:
    """A complete 1-minute bar; `end` is the aware UTC end of the bar's minute."""

    code: str
    end: dt.datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int | None  # sum of price x quantity, KRW; None when the source has none (ka10080)


class MinuteAggregator:
    """Streaming ticks -> 1-minute bars for one instrument and one session.

    `on_tick` returns the bar that the tick completed (the previous minute's bar, when the tick
    opens a new minute), else None. `on_clock` emits the open bar once its minute is over even
    if no further tick arrives; `flush` emits whatever is open (end of session or shutdown).
    A tick whose minute was already emitted is still counted in the session figures (VWAP,
    체결강도) and in `late_ticks`, but an emitted bar is never rewritten.
    """

    __slots__ = (
        "_auction_ms",
        "_bar_close",
        "_bar_end",
        "_bar_high",
        "_bar_low",
        "_bar_open",
        "_bar_value",
        "_bar_volume",
        "_close_ms",
        "_emitted_end",
        "_off_session_end",
        "_open_ms",
        "_or_end_ms",
        "buy_volume",
        "code",
        "ignored_ticks",
        "late_ticks",
        "opening_range_high",
        "opening_range_low",
        "sell_volume",
        "session",
        "value",
        "volume",
    )

    def __init__(self, code: str, session: Session, opening_range_minutes: int = 5) -> None:
        self.code = code
        self.session = session
        self._open_ms = epoch_ms(session.open)
        self._auction_ms = epoch_ms(session.closing_auction)
        self._close_ms = epoch_ms(session.close)
        self._off_session_end = self._close_ms + _CLOSE_PRINT_WINDOW_MS
        self._or_end_ms = self._open_ms + opening_range_minutes * _MINUTE_MS
        self._bar_end = 0
        self._emitted_end = 0
        self._bar_open = self._bar_high = self._bar_low = self._bar_close = 0
        self._bar_volume = self._bar_value = 0
        self.volume = 0
        self.value = 0
        self.buy_volume = 0
        self.sell_volume = 0
        self.opening_range_high: int | None = None
        self.opening_range_low: int | None = None
        self.ignored_ticks = 0
        self.late_ticks = 0

    # The hot path: kept flat on purpose (no helper calls per tick) for the throughput goal.
    def on_tick(self, ts_ms: int, price: int, qty: int) -> Bar | None:
        if ts_ms < self._open_ms or ts_ms >= self._off_session_end:
            self.ignored_ticks += 1
            return None
        if qty < 0:
            qty = -qty
            self.sell_volume += qty
        else:
            self.buy_volume += qty
        amount = price * qty
        self.volume += qty
        self.value += amount
        if ts_ms < self._or_end_ms:
            if self.opening_range_high is None or price > self.opening_range_high:
                self.opening_range_high = price
            if self.opening_range_low is None or price < self.opening_range_low:
                self.opening_range_low = price
        end = (
            self._close_ms if ts_ms >= self._auction_ms else ts_ms - ts_ms % _MINUTE_MS + _MINUTE_MS
        )
        if end == self._bar_end:
            if price > self._bar_high:
                self._bar_high = price
            elif price < self._bar_low:
                self._bar_low = price
            self._bar_close = price
            self._bar_volume += qty
            self._bar_value += amount
            return None
        if end < self._bar_end or end <= self._emitted_end:
            self.late_ticks += 1
            return None
        done = self._emit() if self._bar_end else None
        self._bar_end = end
        self._bar_open = self._bar_high = self._bar_low = self._bar_close = price
        self._bar_volume = qty
        self._bar_value = amount
        return done

    def on_trade(self, tick: TradeLike) -> Bar | None:
        """Feed a broker 0B `Tick` event (aware `at`, `price`, `quantity`, `aggressor`).

        An unsigned tick (no aggressor) counts in the bar and VWAP but on neither side of 체결강도.
        """
        price = tick.price
        if tick.at is None or price is None:
            self.ignored_ticks += 1
            return None
        side = getattr(tick.aggressor, "value", None)
        qty = -tick.quantity if side == "sell" else tick.quantity
        buy_before = self.buy_volume
        done = self.on_tick(epoch_ms(tick.at), price, qty)
        if side is None:
            self.buy_volume = buy_before
        return done

    def on_clock(self, now_ms: int) -> Bar | None:
        """Emit the open bar if its minute is over (the closing bar waits for the auction print)."""
        if not self._bar_end:
            return None
        due = self._bar_end if self._bar_end != self._close_ms else self._off_session_end
        return self._emit() if now_ms >= due else None

    def flush(self) -> Bar | None:
        return self._emit() if self._bar_end else None

    def _emit(self) -> Bar:
        bar = Bar(
            code=self.code,
            end=from_epoch_ms(self._bar_end),
            open=self._bar_open,
            high=self._bar_high,
            low=self._bar_low,
            close=self._bar_close,
            volume=self._bar_volume,
            value=self._bar_value,
        )
        self._emitted_end = self._bar_end
        self._bar_end = 0
        return bar

    @property
    def vwap(self) -> float | None:
        return self.value / self.volume if self.volume else None

    @property
    def strength(self) -> Decimal | None:
        """체결강도: buyer-initiated volume / seller-initiated volume x 100 (None before any sell)."""
        if not self.sell_volume:
            return None
        return (Decimal(self.buy_volume) * 100 / Decimal(self.sell_volume)).quantize(_PCT)

    @property
    def opening_range(self) -> tuple[int, int] | None:
        if self.opening_range_high is None or self.opening_range_low is None:
            return None
        return self.opening_range_high, self.opening_range_low


def bar_end_ms(ts_ms: np.ndarray, session: Session) -> np.ndarray:
    """Vectorised bar labelling of epoch-ms timestamps (same rule as MinuteAggregator)."""
    auction = epoch_ms(session.closing_auction)
    close = epoch_ms(session.close)
    minute_end = ts_ms - ts_ms % _MINUTE_MS + _MINUTE_MS
    return np.where(ts_ms >= auction, close, minute_end)


def resample_ticks(ticks: pd.DataFrame, session: Session) -> pd.DataFrame:
    """Vectorised ticks -> 1-minute bars.

    `ticks` has columns ts_ms (int epoch ms), price (int) and qty (signed int). Returns a frame
    indexed by the aware UTC bar end with open, high, low, close, volume and value (all int64),
    and the session columns cum_volume, cum_value, vwap and strength as of each bar's end.
    """
    open_ms = epoch_ms(session.open)
    stop_ms = epoch_ms(session.close) + _CLOSE_PRINT_WINDOW_MS
    ts = ticks["ts_ms"].to_numpy(dtype=np.int64)
    keep = (ts >= open_ms) & (ts < stop_ms)
    ts = ts[keep]
    price = ticks["price"].to_numpy(dtype=np.int64)[keep]
    signed = ticks["qty"].to_numpy(dtype=np.int64)[keep]
    qty = np.abs(signed)
    frame = pd.DataFrame(
        {
            "end": bar_end_ms(ts, session),
            "price": price,
            "qty": qty,
            "value": price * qty,
            "buy": np.where(signed > 0, qty, 0),
            "sell": np.where(signed < 0, qty, 0),
        }
    )
    grouped = frame.groupby("end", sort=True)
    bars = pd.DataFrame(
        {
            "open": grouped["price"].first(),
            "high": grouped["price"].max(),
            "low": grouped["price"].min(),
            "close": grouped["price"].last(),
            "volume": grouped["qty"].sum(),
            "value": grouped["value"].sum(),
        }
    )
    cum_buy = grouped["buy"].sum().cumsum()
    cum_sell = grouped["sell"].sum().cumsum()
    bars["cum_volume"] = bars["volume"].cumsum()
    bars["cum_value"] = bars["value"].cumsum()
    bars["vwap"] = bars["cum_value"] / bars["cum_volume"]
    bars["strength"] = (cum_buy * 100 / cum_sell.where(cum_sell > 0)).round(2)
    bars.index = pd.to_datetime(bars.index.to_numpy(), unit="ms", utc=True)
    bars.index.name = "end"
    return bars


def opening_range(bars: pd.DataFrame, session: Session, minutes: int = 5) -> tuple[int, int] | None:
    """High and low of the first `minutes` bars of the session, from a bar frame."""
    cutoff = pd.Timestamp(session.open) + pd.Timedelta(minutes=minutes)
    first = bars[bars.index <= cutoff]
    if first.empty:
        return None
    return int(first["high"].max()), int(first["low"].min())
