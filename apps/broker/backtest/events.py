"""The backtest broker's realtime events: concrete, frozen forms of the contract's `OrderEvent` and
`BalanceEvent` (what the Kiwoom backend decodes from 00/04 frames), so the executor and the books
consume a backtest's order events exactly as they consume live ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from apps.broker.contract import BalanceEvent, OrderEvent, OrderStatus, Side


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestOrderEvent(OrderEvent):
    # field(): required, not defaulted to the base class's abstract properties
    code: str = field()
    day: date = field()
    account: str
    order_no: str
    original_order_no: str | None
    status: OrderStatus
    name: str
    order_kind: str
    side: Side
    order_type_name: str
    quantity: int
    price: int | None
    remaining: int
    filled_value: int
    at: datetime | None
    execution_no: str | None = None
    fill_price: int | None = None  # the order's average fill price so far
    filled_quantity: int | None = None  # the order's cumulative fill
    unit_fill_price: int | None = None  # this execution
    unit_fill_quantity: int | None = None
    fee: int = 0  # the order's cumulative commission
    tax: int = 0  # the order's cumulative sell tax
    reject_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestBalanceEvent(BalanceEvent):
    # field(): required, not defaulted to the base class's abstract properties
    code: str = field()
    day: date = field()
    account: str
    name: str
    quantity: int
    average_price: int | None
    purchase_amount: int
    sellable_quantity: int
    current_price: int | None
    base_price: int | None
    realized_profit_loss: int
