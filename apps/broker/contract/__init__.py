"""The vendor-neutral broker contract: the only broker module the apps import (with `backends`).

- `types`: enums (Side, OrderType, OrderStatus, Exchange, Direction, RankingKind) and frozen
  dataclasses (Quote, OrderBook, Fill, Holding, Balance, OpenOrder, OrderAck, OrderState, ...)
  with int KRW, Decimal rates, aware datetimes, and `None` — never 0 — for an unknown price/rate;
- `events`: the realtime events (Tick, OrderEvent, BalanceEvent, ConditionEvent, ViEvent);
- `errors`: the `BrokerError` family;
- `base`: the `Broker` and `RealtimeFeed` interfaces.

Rules every caller relies on:
- place/amend/cancel are sent once. `AmbiguousOutcome` means "maybe done" (the reply was lost or
  the call ran out of time): reconcile with `order_status`/`open_orders`/`fills`, never resend
  blindly. Every other error from these calls (`OrderRejected`, `InvalidRequest`, `RateLimited`,
  `AuthExpired`, `BrokerUnavailable`) means the broker did not take the order; after `AuthExpired`
  the shared token has already been renewed. A call that ran out of time sends nothing afterwards.
- Reads that run out of time raise `BrokerUnavailable`.
- Realtime subscriptions survive reconnects; a gap is announced through `RealtimeFeed.connections`.
- Vendor status text never leaves a backend: order status is always an `OrderStatus`.
"""

from __future__ import annotations

from .base import Broker, EventHandler, RealtimeFeed
from .errors import (
    AmbiguousOutcome,
    AuthExpired,
    AuthFailed,
    BrokerError,
    BrokerUnavailable,
    InvalidRequest,
    OrderRejected,
    RateLimited,
)
from .events import (
    BalanceEvent,
    ConditionEvent,
    OrderEvent,
    RealtimeEvent,
    Tick,
    ViEvent,
    ViKind,
)
from .types import (
    AmendAck,
    Balance,
    CancelAck,
    Condition,
    ConditionHit,
    DailyBar,
    Direction,
    Exchange,
    Fill,
    Holding,
    Instrument,
    InstrumentWarning,
    MinuteBar,
    OpenOrder,
    OrderAck,
    OrderBook,
    OrderBookLevel,
    OrderState,
    OrderStatus,
    OrderType,
    Quote,
    RankingKind,
    RankingRow,
    Side,
    TokenInfo,
)

__all__ = [
    "AmbiguousOutcome",
    "AmendAck",
    "AuthExpired",
    "AuthFailed",
    "Balance",
    "BalanceEvent",
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "CancelAck",
    "Condition",
    "ConditionEvent",
    "ConditionHit",
    "DailyBar",
    "Direction",
    "EventHandler",
    "Exchange",
    "Fill",
    "Holding",
    "Instrument",
    "InstrumentWarning",
    "InvalidRequest",
    "MinuteBar",
    "OpenOrder",
    "OrderAck",
    "OrderBook",
    "OrderBookLevel",
    "OrderEvent",
    "OrderRejected",
    "OrderState",
    "OrderStatus",
    "OrderType",
    "Quote",
    "RankingKind",
    "RankingRow",
    "RateLimited",
    "RealtimeEvent",
    "RealtimeFeed",
    "Side",
    "Tick",
    "TokenInfo",
    "ViEvent",
    "ViKind",
]
