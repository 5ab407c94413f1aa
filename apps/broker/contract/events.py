"""Realtime events as the apps see them: ticks, order events, position events, condition entries,
volatility interruptions (VI).

These are interfaces: each backend supplies concrete subclasses (Kiwoom's decode lazily from the
frame, because a busy session pushes tens of thousands of ticks a minute). Handlers dispatch with
`isinstance(event, Tick)` and read the typed properties below; values are normalised like the rest
of the contract (int KRW without sign, Decimal percent, aware datetimes, bare codes, `None` for a
price or rate the frame did not carry — never 0).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from .types import Direction, OrderStatus, Side

__all__ = [
    "BalanceEvent",
    "ConditionEvent",
    "OrderEvent",
    "RealtimeEvent",
    "Tick",
    "ViEvent",
    "ViKind",
]


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


class ViKind(enum.Enum):
    """Which VI tripped: static (≥ 10 % from the last single-price match), dynamic (a jump from the
    last trade), or both at once. UNKNOWN: the broker sent a value we do not recognise."""

    STATIC = "static"
    DYNAMIC = "dynamic"
    BOTH = "both"
    UNKNOWN = "unknown"


class ViEvent(RealtimeEvent):
    """A volatility interruption (변동성완화장치) started (`active`) or ended for `code`.

    While one is in progress the stock trades only in a ~2-minute single-price auction: orders
    rest until it ends. `at` is the exchange time of the change (None when the frame did not say);
    `release_at` the time the broker gives for the end (on a start, its expected end, when sent);
    `upward` the direction of the move that tripped it (None when unknown)."""

    __slots__ = ()

    name: str
    active: bool
    kind: ViKind
    trigger_price: int | None
    at: datetime | None
    release_at: datetime | None
    static_reference: int | None
    dynamic_reference: int | None
    count: int | None  # VIs of the stock today
    upward: bool | None
