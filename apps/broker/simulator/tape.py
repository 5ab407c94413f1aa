"""The simulated tape of the current trading day: per-stock running state (`StockDay`) and how a
print changes it (OHLC, volumes, the touch, minute bars) into the Tick the protocol pushes.

Integer arithmetic throughout: this runs for every simulated trade.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from krx import SessionPhase, change_sign, step_ticks

from .dto import Instrument, Side, Tick
from .pricing import DayPath


def pct(num: int, den: int) -> Decimal:
    """num/den in percent, 2 decimals, rounded half away from zero (integer arithmetic: this
    runs for every tick)."""
    if den == 0:
        return Decimal("0.00")
    q = (abs(num) * 20_000 // den + 1) // 2
    return Decimal(-q if num < 0 else q).scaleb(-2)


def avg_price(cost: int, qty: int) -> int:
    """Average price of a position, rounded half up to the won."""
    return (2 * cost + qty) // (2 * qty) if qty else 0


@dataclass
class StockDay:
    """Running state of one stock on the current trading day."""

    inst: Instrument
    path: DayPath
    rng: random.Random
    avg_minute_volume: int
    base: int
    limits: tuple[int, int]
    prev_volume: int
    prev_value: int
    price: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    volume: int = 0
    value: int = 0
    buy_volume: int = 0
    sell_volume: int = 0
    buy_count: int = 0
    sell_count: int = 0
    open_time: dt.datetime | None = None
    high_time: dt.datetime | None = None
    low_time: dt.datetime | None = None
    up_time: dt.datetime | None = None
    down_time: dt.datetime | None = None
    best_ask: int = 0
    best_bid: int = 0
    static_ref: int = 0
    vi_until: dt.datetime | None = None
    vi_count: int = 0
    vi_volume: int = 0
    vi_price: int = 0
    vi_kind: str = "static"
    bars: dict[int, list[int]] = field(default_factory=dict)  # minute -> [o,h,l,c,v,value,cum]
    consumed: dict[int, int] = field(default_factory=dict)
    last_book: dict[int, int] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return self.price or self.base


def strength(st: StockDay) -> Decimal:
    """체결강도: buy-initiated / sell-initiated volume in percent (500 when nothing sold)."""
    if st.sell_volume == 0:
        return Decimal("0.00") if st.buy_volume == 0 else Decimal("500.00")
    return pct(st.buy_volume, st.sell_volume)


def set_touch(st: StockDay, price: int, side: Side | None, day: dt.date) -> None:
    """Move the best ask/bid around a print (a buy lifts the ask, a sell hits the bid)."""
    mkt = st.inst.market
    lower, upper = st.limits
    if side is Side.SELL:
        st.best_bid, st.best_ask = price, step_ticks(price, 1, mkt, day)
    else:
        st.best_ask, st.best_bid = price, step_ticks(price, -1, mkt, day)
    if side is None:
        st.best_ask = step_ticks(price, 1, mkt, day)
        st.best_bid = price
    st.best_ask = min(st.best_ask, upper)
    st.best_bid = max(st.best_bid, lower)


def record_print(
    st: StockDay, when: dt.datetime, price: int, vol: int, side: Side, minute: int, day: dt.date
) -> None:
    """Book a print into the stock's day: OHLC and their times, limit hits, volumes, the touch,
    the minute bar; the synthesised book's consumption starts over."""
    if not st.open:
        st.open = st.high = st.low = price
        st.open_time = st.high_time = st.low_time = when
    if price > st.high:
        st.high, st.high_time = price, when
    if price < st.low:
        st.low, st.low_time = price, when
    if price >= st.limits[1] and st.up_time is None:
        st.up_time = when
    if price <= st.limits[0] and st.down_time is None:
        st.down_time = when
    st.price = price
    st.volume += vol
    st.value += vol * price
    if side is Side.BUY:
        st.buy_volume += vol
        st.buy_count += 1
    else:
        st.sell_volume += vol
        st.sell_count += 1
    set_touch(st, price, side, day)
    st.consumed.clear()
    bar = st.bars.get(minute)
    if bar is None:
        st.bars[minute] = [price, price, price, price, vol, vol * price, st.volume]
    else:
        bar[1] = max(bar[1], price)
        bar[2] = min(bar[2], price)
        bar[3] = price
        bar[4] += vol
        bar[5] += vol * price
        bar[6] = st.volume


def tick_of(
    st: StockDay,
    when: dt.datetime,
    vol: int,
    side: Side,
    auction: bool,
    phase: SessionPhase,
    prev_same_time: int,
) -> Tick:
    """The Tick event of the print `record_print` just booked."""
    price, base = st.price, st.base
    return Tick(
        code=st.inst.code,
        time=when,
        price=price,
        change=price - base,
        change_rate_pct=pct(price - base, base),
        sign=change_sign(price, base, st.limits),
        volume=vol,
        side=side,
        cum_volume=st.volume,
        cum_value=st.value,
        open=st.open,
        high=st.high,
        low=st.low,
        best_ask=st.best_ask,
        best_bid=st.best_bid,
        base_price=base,
        prev_volume=st.prev_volume,
        prev_volume_same_time=prev_same_time,
        turnover_pct=pct(st.volume, st.inst.listed_shares),
        strength_pct=strength(st),
        market_cap=price * st.inst.listed_shares,
        vwap=st.value // st.volume,
        buy_volume=st.buy_volume,
        sell_volume=st.sell_volume,
        buy_count=st.buy_count,
        sell_count=st.sell_count,
        open_time=st.open_time,
        high_time=st.high_time,
        low_time=st.low_time,
        upper_limit_time=st.up_time,
        lower_limit_time=st.down_time,
        auction=auction,
        phase=phase,
    )


def path_bars(path: DayPath) -> dict[int, list[int]]:
    """1-minute bars [o, h, l, c, volume, value, cum volume] straight from a path: the opening
    auction joins minute 0, the closing auction is minute 390 (15:30). Values are approximated
    with the bar's average price (used only for days that were not traded tick by tick)."""
    out: dict[int, list[int]] = {}
    cum = 0
    for m, (o, h, lo, c, v) in enumerate(path.bars):
        if m == 0:
            o, h, lo = path.open_price, max(h, path.open_price), min(lo, path.open_price)
            v += path.open_volume
        cum += v
        out[m] = [o, h, lo, c, v, v * (o + h + lo + c) // 4, cum]
    cum += path.close_volume
    c = path.close_price
    out[390] = [c, c, c, c, path.close_volume, path.close_volume * c, cum]
    return out


def fast_forward(st: StockDay, open_at: dt.datetime, day: dt.date) -> None:
    """Finish a stock's day at once from its path (no ticks, no events)."""
    bars = {m: b for m, b in path_bars(st.path).items() if b[4] > 0}
    st.bars = bars
    o, h, lo, c, v = st.path.ohlcv()
    st.open, st.high, st.low, st.price, st.volume = o, h, lo, c, v
    st.value = sum(b[5] for b in bars.values())
    st.buy_volume = v // 2
    st.sell_volume = v - st.buy_volume
    st.open_time = open_at
    set_touch(st, c, None, day)
