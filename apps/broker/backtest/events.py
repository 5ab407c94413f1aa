"""The backtest broker's realtime events: concrete, immutable forms of the contract's `OrderEvent` and
`BalanceEvent` (what the Kiwoom backend decodes from 00/04 frames), so the executor and the books
consume a backtest's order events exactly as they consume live ones.

Each is a named tuple under the contract's base class: immutable (setting a field raises
`AttributeError`), read by name like the live events, built in about a fifth of the time of a frozen
dataclass (a frozen dataclass sets each of its 23 fields through `object.__setattr__`). A backtest
builds two or three per order, so this is a measurable share of a run (bench/backtest_peers.py).
Equality is by value, as for any tuple."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from apps.broker.contract import BalanceEvent, OrderEvent, OrderStatus, Side


class _OrderEventFields(NamedTuple):
    code: str
    day: date
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


class _BalanceEventFields(NamedTuple):
    code: str
    day: date
    account: str
    name: str
    quantity: int
    average_price: int | None
    purchase_amount: int
    sellable_quantity: int
    current_price: int | None
    base_price: int | None
    realized_profit_loss: int


# The named tuple comes first in the bases, so its fields win over the contract's abstract
# `code`/`day` properties; the contract classes add no instance state (`__slots__ = ()`).
class BacktestOrderEvent(_OrderEventFields, OrderEvent):  # type: ignore[misc]
    __slots__ = ()


class BacktestBalanceEvent(_BalanceEventFields, BalanceEvent):  # type: ignore[misc]
    __slots__ = ()
