"""Realtime events as the apps see them: ticks, order events, position events, condition entries.

These are interfaces: each backend supplies concrete subclasses (Kiwoom's decode lazily from the
frame, because a busy session pushes tens of thousands of ticks a minute). Handlers dispatch with
`isinstance(event, Tick)` and read the typed properties below; values are normalised like the rest
of the contract (int KRW without sign, Decimal percent, aware datetimes, bare codes, `None` for a
price or rate the frame did not carry — never 0).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from .types import Direction, OrderStatus, Side

__all__ = ["BalanceEvent", "ConditionEvent", "OrderEvent", "RealtimeEvent", "Tick"]


class RealtimeEvent:
    """Base of every event: `code` the instrument, `day` the trading day it arrived on."""

    __slots__ = ()

    @property
    def code(self) -> str:
        raise NotImplementedError

    @property
    def day(self) -> date:
        raise NotImplementedError


class Tick(RealtimeEvent):
    """One trade."""

    __slots__ = ()

    at: datetime | None
    price: int | None
    change: int
    change_rate: Decimal | None
    direction: Direction
    quantity: int
    aggressor: Side | None  # buy- or sell-initiated; None when the broker does not say
    cumulative_volume: int
    cumulative_value_krw: int
    open: int | None
    high: int | None
    low: int | None
    best_ask: int | None
    best_bid: int | None
    session: str


class OrderEvent(RealtimeEvent):
    """An order was accepted, (partly) filled, amended, cancelled or rejected."""

    __slots__ = ()

    account: str
    order_no: str
    original_order_no: str | None
    status: OrderStatus
    name: str
    order_kind: str
    side: Side
    order_type_name: str
    quantity: int
    price: int | None  # the order's limit price; None for market orders
    remaining: int
    filled_value: int
    at: datetime | None
    execution_no: str | None
    fill_price: int | None
    filled_quantity: int | None
    unit_fill_price: int | None
    unit_fill_quantity: int | None
    fee: int
    tax: int
    reject_reason: str | None


class BalanceEvent(RealtimeEvent):
    """The position in one instrument after a fill."""

    __slots__ = ()

    account: str
    name: str
    quantity: int
    average_price: int | None
    purchase_amount: int
    sellable_quantity: int
    current_price: int | None
    base_price: int | None
    realized_profit_loss: int


class ConditionEvent(RealtimeEvent):
    """An instrument entered or left a realtime condition search."""

    __slots__ = ()

    seq: str
    entered: bool
    at: datetime | None
