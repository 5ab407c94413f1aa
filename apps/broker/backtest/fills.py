"""The backtest broker's bar fill model and order bookkeeping (`broker.py` drives them).

Fill model, per bar of a code (README, "Backtest broker"):
- Eligibility: a limit buy fills when the bar's low reaches its limit, a sell when the high does;
  a market order always — except that nothing fills through a locked limit: a bar that traded
  only at the upper limit (low == upper limit) fills no buy, one only at the lower limit fills no
  sell (the queue at a locked limit is unknowable from bars).
- Price: a limit order at min(open, limit) for a buy / max(open, limit) for a sell (the bar's
  first trade when it already crossed the limit, else the limit); a market order at the open
  moved `slippage_ticks` ticks against it on the KRX tick grid, then kept inside the bar's range
  and the day's price limits. Every fill price lies inside [low, high] of its bar.
- Size: each side (our buys, our sells) shares floor(bar volume × participation) shares of each
  bar in price-time priority (market first, better limit, earlier order); what is left waits for
  the next bars. Open orders expire at `end_day`.
- Fees: commission per order on its cumulative amount, the dated sell tax by trade date and
  market (krx.fees via the ledger, to the won); cash and shares move at the fill (no T+2).

- `DayState`: a code's trading-day state (base price, limits, running OHLCV).
- `bar_fill_price`: the price an open order fills at on a bar, or None when the bar does not reach it.
- `day_window`: a trading day's [start, end) in a bar's zone.
- `order_status`, `order_event`, `open_order_record`, `fill_record`: a ledger order in the contract's
  shapes (status, `BacktestOrderEvent`, `OpenOrder`, `Fill`).

Pure: the broker contract, the simulator's core and krx only.
"""

from __future__ import annotations

import datetime as dt

from apps.broker.contract import Fill, MinuteBar, OpenOrder, OrderStatus, Side
from apps.broker.simulator import dto as sim
from apps.broker.simulator.accounts import Order
from krx import KST, step_ticks
from krx.markets import Market

from .events import BacktestOrderEvent

TYPE_NAMES = {sim.OrderType.LIMIT: "보통", sim.OrderType.MARKET: "시장가"}
# The order event's kind and contract side by the ledger's side (built once, not per event).
_KINDS = {s: f"{'+' if s is sim.Side.BUY else '-'}{s.korean}" for s in sim.Side}
_SIDES = {sim.Side.BUY: Side.BUY, sim.Side.SELL: Side.SELL}


def contract_side(side: sim.Side) -> Side:
    return _SIDES[side]


def order_status(o: Order, replaced: bool = False) -> OrderStatus:
    """The contract status of a ledger order (`replaced`: an amend closed its remainder)."""
    if o.is_open:
        return OrderStatus.PARTIALLY_FILLED if o.filled_qty else OrderStatus.ACCEPTED
    if not o.cancelled_qty:
        return OrderStatus.FILLED
    return OrderStatus.REPLACED if replaced else OrderStatus.CANCELLED


class DayState:
    """A code's trading-day state: base price, limits and the running OHLCV."""

    __slots__ = ("base", "close", "high", "limits", "low", "open", "volume")

    def __init__(self, base: int, limits: tuple[int, int]) -> None:
        self.base, self.limits = base, limits
        self.open = self.high = self.low = self.close = 0
        self.volume = 0


def day_window(day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Trading day `day`, [00:00, 24:00) Seoul time, expressed in `tz`: the broker compares each bar
    with it in the bar's own zone (comparing datetimes of two zones costs twice a conversion)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=KST)
    return start.astimezone(tz), (start + dt.timedelta(days=1)).astimezone(tz)


def bar_fill_price(
    o: Order,
    bar: MinuteBar,
    day: DayState,
    market: Market,
    slippage_ticks: int,
    trade_date: dt.date,
) -> int | None:
    """A limit buy at min(open, limit) once the low reaches it, a sell at max(open, limit) once the
    high does; a market order at the open moved `slippage_ticks` against it (on the tick grid of
    `trade_date`), kept inside the bar's range and the day's limits.
    None: the bar does not reach the order."""
    buy = o.side is sim.Side.BUY
    if o.order_type is sim.OrderType.MARKET:
        if not slippage_ticks:
            moved = bar.open
        else:
            steps = slippage_ticks if buy else -slippage_ticks
            moved = step_ticks(bar.open, steps, market, trade_date)
        lo, hi = max(bar.low, day.limits[0]), min(bar.high, day.limits[1])
        return min(max(moved, lo), hi)
    if buy:
        return min(bar.open, o.price) if bar.low <= o.price else None
    return max(bar.open, o.price) if bar.high >= o.price else None


def order_event(
    o: Order, status: OrderStatus, at: dt.datetime, fill: sim.Fill | None = None
) -> BacktestOrderEvent:
    """The order event of `o` at `at` (with `fill`: the execution it reports)."""
    # Positional, in the field order of `BacktestOrderEvent` (the hot path of a backtest's orders;
    # test_events checks the order against the field names).
    filled = o.filled_qty
    return BacktestOrderEvent(
        o.code, at.date(), o.account, o.order_no, o.orig_order_no, status, o.name,
        _KINDS[o.side], _SIDES[o.side], TYPE_NAMES[o.order_type], o.qty, o.price or None,
        o.remaining, o.filled_value, at,
        fill.fill_no if fill else None,  # execution_no
        o.filled_value // filled if filled else None,  # fill_price
        filled,  # filled_quantity
        fill.price if fill else None,  # unit_fill_price
        fill.qty if fill else None,  # unit_fill_quantity
        o.commission, o.tax,  # fee, tax
    )  # fmt: skip


def open_order_record(o: Order, status: OrderStatus) -> OpenOrder:
    return OpenOrder(
        o.order_no,
        o.orig_order_no,
        o.code,
        o.name,
        contract_side(o.side),
        status,
        TYPE_NAMES[o.order_type],
        o.qty,
        o.price or None,
        o.remaining,
        o.filled_qty,
        o.filled_value,
        o.time,
    )


def fill_record(o: Order, status: OrderStatus, last: dt.datetime | None) -> Fill:
    """An order with executions, cumulative like Kiwoom's execution list (`last`: its latest fill)."""
    return Fill(
        o.order_no,
        o.orig_order_no,
        o.code,
        o.name,
        contract_side(o.side),
        status,
        TYPE_NAMES[o.order_type],
        o.price or None,
        o.qty,
        o.filled_value // o.filled_qty,
        o.filled_qty,
        o.remaining,
        o.commission,
        o.tax,
        last,
    )
