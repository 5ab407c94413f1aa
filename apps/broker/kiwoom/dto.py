"""The normalised values the client hands out: frozen dataclasses, int KRW, Decimal rates.

These are also the broker contract's types (apps/broker/contract.py re-exports them), so every
backend — Kiwoom, the simulator through Kiwoom, the in-memory one — returns exactly these.
Prices carry no direction sign (`direction` says up/down); codes carry no `A` prefix; times are
aware; amounts Kiwoom reports in 백만원 are converted to KRW.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from .normalize import Direction

__all__ = [
    "AmendAck",
    "Balance",
    "CancelAck",
    "Condition",
    "ConditionHit",
    "DailyBar",
    "Direction",
    "Exchange",
    "Fill",
    "Holding",
    "Instrument",
    "MinuteBar",
    "OpenOrder",
    "OrderAck",
    "OrderBook",
    "OrderBookLevel",
    "OrderStatus",
    "OrderType",
    "Quote",
    "RankingKind",
    "RankingRow",
    "Side",
    "TokenInfo",
]


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


class Exchange(enum.Enum):
    KRX = "KRX"
    NXT = "NXT"
    SOR = "SOR"


class OrderType(enum.Enum):
    """Order types we trade with; the value is Kiwoom's `trde_tp` code."""

    LIMIT = "0"
    MARKET = "3"
    CONDITIONAL_LIMIT = "5"
    BEST_LIMIT = "6"
    PRIORITY_LIMIT = "7"
    LIMIT_IOC = "10"
    MARKET_IOC = "13"
    LIMIT_FOK = "20"
    MARKET_FOK = "23"

    @property
    def needs_price(self) -> bool:
        return self in {
            OrderType.LIMIT,
            OrderType.CONDITIONAL_LIMIT,
            OrderType.LIMIT_IOC,
            OrderType.LIMIT_FOK,
        }


class RankingKind(enum.Enum):
    TRADING_VALUE = "ka10032"
    VOLUME_SURGE = "ka10023"
    CHANGE_RATE = "ka10027"
    VOLUME = "ka10030"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a token: never the token itself."""

    app_key_hint: str
    expires_at: datetime | None
    valid: bool


@dataclass(frozen=True, slots=True)
class Quote:
    code: str
    name: str
    price: int
    direction: Direction
    change: int
    change_rate: Decimal
    open: int
    high: int
    low: int
    base_price: int
    upper_limit: int
    lower_limit: int
    volume: int
    market_cap_krw: int


@dataclass(frozen=True, slots=True)
class OrderBookLevel:
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderBook:
    code: str
    asks: tuple[OrderBookLevel, ...]  # best first
    bids: tuple[OrderBookLevel, ...]  # best first
    total_ask_quantity: int
    total_bid_quantity: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class MinuteBar:
    code: str
    at: datetime  # bar timestamp as Kiwoom reports it (KST, aware)
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class DailyBar:
    code: str
    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value_krw: int  # reported in 백만원; precision is one million KRW


@dataclass(frozen=True, slots=True)
class RankingRow:
    rank: int
    code: str
    name: str
    price: int
    direction: Direction
    change: int
    change_rate: Decimal
    volume: int
    value_krw: int | None  # None where the TR does not report trading value
    surge_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    cash: int  # 예수금
    d2_cash: int  # D+2 추정예수금
    orderable: int  # 주문가능금액
    withdrawable: int
    total_purchase: int
    total_evaluation: int
    total_profit_loss: int
    total_return_rate: Decimal
    estimated_assets: int


@dataclass(frozen=True, slots=True)
class Holding:
    code: str
    name: str
    quantity: int
    sellable_quantity: int
    average_price: int
    current_price: int
    purchase_amount: int
    evaluation_amount: int
    profit_loss: int
    return_rate: Decimal


@dataclass(frozen=True, slots=True)
class OrderAck:
    order_no: str
    exchange: str


@dataclass(frozen=True, slots=True)
class AmendAck:
    order_no: str  # the new order number the amend created
    original_order_no: str
    quantity: int


@dataclass(frozen=True, slots=True)
class CancelAck:
    order_no: str
    original_order_no: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OpenOrder:
    order_no: str
    original_order_no: str | None
    code: str
    name: str
    side: Side
    status: str  # 접수 / 확인 / 체결 ... as Kiwoom names it
    order_type_name: str
    quantity: int
    price: int
    remaining: int
    filled_quantity: int
    filled_value: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Fill:
    """One row of ka10076: an order with its (cumulative) execution."""

    order_no: str
    original_order_no: str | None
    code: str
    name: str
    side: Side
    status: str
    order_type_name: str
    order_price: int
    order_quantity: int
    fill_price: int
    fill_quantity: int
    remaining: int
    fee: int
    tax: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderStatus:
    order_no: str
    code: str
    side: Side
    quantity: int
    filled_quantity: int
    remaining: int
    average_fill_price: int | None
    status: str
    is_open: bool


@dataclass(frozen=True, slots=True)
class Instrument:
    code: str
    name: str
    market_code: str
    market_name: str
    listed_shares: int
    listing_date: date | None
    previous_close: int
    sector: str
    size_class: str
    warning: str
    state_flags: tuple[str, ...] = field(default_factory=tuple)
    nxt_enabled: bool = False


@dataclass(frozen=True, slots=True)
class Condition:
    seq: str
    name: str


@dataclass(frozen=True, slots=True)
class ConditionHit:
    code: str
    name: str = ""
    price: int | None = None
    direction: Direction | None = None
    change: int | None = None
    change_rate: Decimal | None = None
    volume: int | None = None
