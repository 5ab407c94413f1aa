"""A backtest's own books: orders, fills, positions and round-trip trades, in memory (pure: no Django).

The same arithmetic as the live books (`apps.trades.services.books`), so a backtest's trades have the
live shape and meaning: a buy fill adds its amount to the position's cost and its commission to the
position's buy fees; a sell fill takes the sold share of both (`cost × qty ÷ held`, floor), and its
P&L is `amount − cost − fees − commission − tax`; the fills of one sell order make one trade (entry
time, strategy tag, news score and rank of the position). Nothing here is written to, or read from, the
live tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from krx import KST

__all__ = ["Books", "BtFill", "BtOrder", "BtPosition", "BtTrade"]

PCT_Q = Decimal("0.0001")


def _avg(amount: int, qty: int) -> Decimal:
    return (
        (Decimal(amount) / qty).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if qty
        else Decimal(0)
    )


@dataclass
class BtOrder:
    """One order the backtest placed (or tried to: `status` rejected, with `message`)."""

    seq: int
    order_no: str
    code: str
    side: str  # "buy" / "sell"
    quantity: int
    price: int | None
    created_at: dt.datetime
    strategy_tag: str
    cause: str  # "signal" / "risk_exit"
    cause_ref: str  # the signal key, or the exit kind
    reason: str
    reference_price: int | None = None
    news_score: int | None = None
    volume_rank: int | None = None
    status: str = "accepted"
    message: str = ""
    filled_quantity: int = 0
    filled_amount: int = 0
    commission: int = 0
    tax: int = 0
    finished_at: dt.datetime | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity if self.status == "accepted" else 0


@dataclass(frozen=True)
class BtFill:
    order_seq: int
    execution_no: str
    code: str
    side: str
    quantity: int
    price: int
    amount: int
    commission: int
    tax: int
    executed_at: dt.datetime


@dataclass
class BtPosition:
    code: str
    quantity: int = 0
    cost_amount: int = 0
    cost_fees: int = 0
    realized_pnl: int = 0
    entry_time: dt.datetime | None = None
    strategy_tag: str = ""
    news_score: int | None = None
    volume_rank: int | None = None
    high: int = 0  # the highest price since entry (the trailing stop's)


@dataclass
class BtTrade:
    code: str
    strategy_tag: str
    entry_time: dt.datetime | None
    exit_time: dt.datetime
    quantity: int = 0
    entry_amount: int = 0
    exit_amount: int = 0
    commission: int = 0
    tax: int = 0
    pnl: int = 0
    news_score: int | None = None
    volume_rank: int | None = None
    exit_order_seq: int = 0
    closed_position: bool = False

    @property
    def entry_price(self) -> Decimal:
        return _avg(self.entry_amount, self.quantity)

    @property
    def exit_price(self) -> Decimal:
        return _avg(self.exit_amount, self.quantity)

    @property
    def pnl_pct(self) -> Decimal:
        if not self.entry_amount:
            return Decimal(0)
        return (Decimal(self.pnl) * 100 / Decimal(self.entry_amount)).quantize(PCT_Q)

    @property
    def day(self) -> dt.date:
        return self.exit_time.astimezone(KST).date()


@dataclass
class Books:
    orders: list[BtOrder] = field(default_factory=list)
    fills: list[BtFill] = field(default_factory=list)
    trades: list[BtTrade] = field(default_factory=list)
    positions: dict[str, BtPosition] = field(default_factory=dict)
    by_no: dict[str, BtOrder] = field(default_factory=dict)
    working: dict[int, BtOrder] = field(default_factory=dict)  # open at the broker, by seq
    _open_trade: dict[int, BtTrade] = field(default_factory=dict)
    realized_by_day: dict[dt.date, int] = field(default_factory=dict)
    holding: int = 0  # positions with shares (the runner's per-minute check)

    def add_order(self, order: BtOrder) -> None:
        self.orders.append(order)
        if order.order_no:
            self.by_no[order.order_no] = order
        if order.status == "accepted":
            self.working[order.seq] = order

    def open_orders(self) -> list[BtOrder]:
        return list(self.working.values())

    def finish(self, order: BtOrder, at: dt.datetime, status: str) -> None:
        order.finished_at, order.status = at, status
        self.working.pop(order.seq, None)

    def on_fill(
        self,
        order: BtOrder,
        execution_no: str,
        qty: int,
        price: int,
        commission: int,
        tax: int,
        at: dt.datetime,
    ) -> BtFill:
        amount = qty * price
        fill = BtFill(
            order.seq, execution_no, order.code, order.side, qty, price, amount, commission, tax, at
        )
        self.fills.append(fill)
        order.filled_quantity += qty
        order.filled_amount += amount
        order.commission += commission
        order.tax += tax
        if order.filled_quantity >= order.quantity:
            self.finish(order, at, "filled")
        position = self.positions.get(order.code)
        if position is None:
            position = self.positions[order.code] = BtPosition(order.code)
        if order.side == "buy":
            self._buy(position, order, fill)
        else:
            self._sell(position, order, fill)
        return fill

    def _buy(self, position: BtPosition, order: BtOrder, fill: BtFill) -> None:
        if position.quantity == 0:
            self.holding += 1
            position.entry_time = fill.executed_at
            position.strategy_tag = order.strategy_tag
            position.news_score = order.news_score
            position.volume_rank = order.volume_rank
            position.high = fill.price
        position.quantity += fill.quantity
        position.cost_amount += fill.amount
        position.cost_fees += fill.commission

    def _sell(self, position: BtPosition, order: BtOrder, fill: BtFill) -> None:
        held = position.quantity
        qty = min(fill.quantity, held)
        if qty >= held:
            cost, fees = position.cost_amount, position.cost_fees
        else:
            cost = position.cost_amount * qty // held
            fees = position.cost_fees * qty // held
        pnl = fill.amount - cost - fees - fill.commission - fill.tax
        position.quantity = held - qty
        position.cost_amount -= cost
        position.cost_fees -= fees
        position.realized_pnl += pnl
        day = fill.executed_at.astimezone(KST).date()
        self.realized_by_day[day] = self.realized_by_day.get(day, 0) + pnl
        trade = self._open_trade.get(order.seq)
        if trade is None:
            trade = BtTrade(
                code=order.code,
                strategy_tag=position.strategy_tag or order.strategy_tag,
                entry_time=position.entry_time,
                exit_time=fill.executed_at,
                news_score=position.news_score,
                volume_rank=position.volume_rank,
                exit_order_seq=order.seq,
            )
            self._open_trade[order.seq] = trade
            self.trades.append(trade)
        trade.quantity += qty
        trade.entry_amount += cost
        trade.exit_amount += fill.amount
        trade.commission += fees + fill.commission
        trade.tax += fill.tax
        trade.pnl += pnl
        trade.exit_time = fill.executed_at
        trade.closed_position = position.quantity == 0
        if position.quantity == 0 and held > 0:
            self.holding -= 1
        if position.quantity == 0:
            position.cost_amount = position.cost_fees = 0
            position.entry_time = None
            position.high = 0

    def held(self) -> list[BtPosition]:
        return [p for p in self.positions.values() if p.quantity > 0]

    def reserved(self, code: str) -> int:
        """Shares held by open sell orders of `code`."""
        if not self.working:
            return 0
        return sum(
            o.remaining for o in self.working.values() if o.code == code and o.side == "sell"
        )
