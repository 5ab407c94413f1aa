"""Paper accounts: cash, holds for open orders, positions at cost, realised P&L, fees and tax.

Settlement is simplified: cash and shares move at the fill (T+2 is ignored), so a sell's proceeds
can buy again at once. Open buy orders hold `remaining × hold price + estimated commission`
(the hold price is the limit, or the upper limit for market orders); open sell orders hold shares.

Invariant (tested): cash + Σ position cost + Σ buy commission still carried − Σ realised P&L
== starting cash. Realised P&L is net of both sides' commission and the sell tax.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from krx import Market, ceil_rate, order_fees

from .dto import OrderAction, OrderStatus, OrderType, Side

# `Position.last_side` values (reading an enum member's .value costs a lookup on every fill)
_BUY, _SELL = Side.BUY.value, Side.SELL.value


@dataclass(slots=True)
class Order:
    account: str
    order_no: str
    orig_order_no: str | None
    base_order_no: str
    code: str
    name: str
    market: Market
    side: Side
    action: OrderAction
    order_type: OrderType
    qty: int
    price: int
    time: dt.datetime
    seq: int
    remaining: int = 0
    filled_qty: int = 0
    filled_value: int = 0
    cancelled_qty: int = 0
    status: OrderStatus = OrderStatus.ACCEPTED
    is_open: bool = True
    commission: int = 0
    tax: int = 0
    last_fill_no: str = ""
    last_fill_price: int = 0
    last_fill_qty: int = 0
    hold_price: int = 0
    held_cash: int = 0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = self.time.isoformat()
        for k in ("market", "side", "action", "order_type", "status"):
            d[k] = str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Order:
        d = dict(d)
        d["time"] = dt.datetime.fromisoformat(d["time"])
        d["market"] = Market(d["market"])
        d["side"] = Side(d["side"])
        d["action"] = OrderAction(d["action"])
        d["order_type"] = OrderType(d["order_type"])
        d["status"] = OrderStatus(d["status"])
        return cls(**d)


@dataclass(slots=True)
class Position:
    qty: int = 0
    cost: int = 0
    buy_commission: int = 0
    sell_held: int = 0
    realized: int = 0
    today_realized: int = 0
    today_buy_qty: int = 0
    today_sell_qty: int = 0
    today_sell_cost: int = 0  # cost basis of today's sells (for the realised rate)
    last_side: str | None = None


@dataclass(slots=True)
class FillResult:
    commission: int
    tax: int
    realized: int


@dataclass(slots=True)
class Account:
    number: str
    starting_cash: int
    cash: int
    commission_rate: Decimal
    held_cash: int = 0
    positions: dict[str, Position] = field(default_factory=dict)
    commission_total: int = 0
    tax_total: int = 0
    commission_today: int = 0
    tax_today: int = 0
    realized_total: int = 0

    # -------------------------------------------------------------- holds
    def buy_hold(self, qty: int, price: int) -> int:
        """Cash an open buy of qty at price needs: amount + commission rounded up."""
        amount = qty * price
        return amount + ceil_rate(amount, self.commission_rate)

    @property
    def orderable_cash(self) -> int:
        return self.cash - self.held_cash

    def max_buy_qty(self, price: int) -> int:
        if price <= 0:
            return 0
        cash = max(self.orderable_cash, 0)
        # Start from the closed form, then correct for the rounded-up commission.
        qty = int(Decimal(cash) / (Decimal(price) * (1 + self.commission_rate)))
        while qty > 0 and self.buy_hold(qty, price) > cash:
            qty -= 1
        while self.buy_hold(qty + 1, price) <= cash:
            qty += 1
        return qty

    def position(self, code: str) -> Position:
        pos = self.positions.get(code)  # not setdefault: that builds a Position on every call
        if pos is None:
            pos = self.positions[code] = Position()
        return pos

    def sellable_qty(self, code: str) -> int:
        pos = self.positions.get(code)
        return pos.qty - pos.sell_held if pos else 0

    def hold(self, order: Order) -> None:
        """(Re)compute the hold of an order from its open remainder."""
        if order.side is Side.BUY:
            new = self.buy_hold(order.remaining, order.hold_price) if order.is_open else 0
            self.held_cash += new - order.held_cash
            order.held_cash = new
        else:
            pos = self.position(order.code)
            new = order.remaining if order.is_open else 0
            pos.sell_held += new - order.held_cash
            order.held_cash = new

    # -------------------------------------------------------------- fills
    def apply_fill(self, order: Order, qty: int, price: int, trade_date: dt.date) -> FillResult:
        """Book a fill: cash, position, the order's cumulative fees (rounded down on the order's
        cumulative amount) and realised P&L. The caller updates the order's remainder/hold."""
        amount = qty * price
        order.filled_qty += qty
        order.filled_value += amount
        # The broker's rule (krx.fees): fees of the order's cumulative amount, rounded down;
        # this fill is charged the difference.
        new_comm, new_tax = order_fees(
            order.filled_value,
            sell=order.side is Side.SELL,
            trade_date=trade_date,
            market=order.market,
            rate=self.commission_rate,
        )
        comm = new_comm - order.commission
        order.commission = new_comm
        tax = 0
        pos = self.position(order.code)
        realized = 0
        if order.side is Side.BUY:
            self.cash -= amount + comm
            pos.qty += qty
            pos.cost += amount
            pos.buy_commission += comm
            pos.today_buy_qty += qty
            pos.last_side = _BUY
        else:
            tax = new_tax - order.tax
            order.tax = new_tax
            cost_out = pos.cost if qty >= pos.qty else pos.cost * qty // pos.qty
            comm_out = pos.buy_commission if qty >= pos.qty else pos.buy_commission * qty // pos.qty
            realized = amount - cost_out - comm_out - comm - tax
            self.cash += amount - comm - tax
            pos.qty -= qty
            pos.cost -= cost_out
            pos.buy_commission -= comm_out
            pos.realized += realized
            pos.today_realized += realized
            pos.today_sell_qty += qty
            pos.today_sell_cost += cost_out
            pos.last_side = _SELL
            self.realized_total += realized
        self.commission_total += comm
        self.commission_today += comm
        self.tax_total += tax
        self.tax_today += tax
        return FillResult(comm, tax, realized)

    def new_day(self) -> None:
        self.commission_today = 0
        self.tax_today = 0
        for code, pos in list(self.positions.items()):
            pos.today_realized = pos.today_buy_qty = pos.today_sell_qty = 0
            pos.today_sell_cost = 0
            if pos.qty == 0 and pos.sell_held == 0:
                del self.positions[code]

    # -------------------------------------------------------------- persistence
    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["commission_rate"] = str(self.commission_rate)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Account:
        d = dict(d)
        d["commission_rate"] = Decimal(d["commission_rate"])
        d["positions"] = {k: Position(**v) for k, v in d["positions"].items()}
        return cls(**d)
