"""The broker contract's value types: enums and frozen dataclasses every backend returns.

Vendor-neutral by design: no Kiwoom codes, field names or Korean status text. Prices and amounts
are int KRW without direction signs, rates are Decimal percent, times are aware, codes are bare
short codes. A price or rate the broker did not report (or reported garbled) is `None`, never 0:
nothing downstream — an order executor least of all — may mistake "unknown" for "0 won".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from krx.markets import Market

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
    "OrderState",
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


class Direction(enum.Enum):
    """Direction versus the previous close (limit-up and limit-down are their own values)."""

    UPPER_LIMIT = "upper_limit"
    UP = "up"
    FLAT = "flat"
    LOWER_LIMIT = "lower_limit"
    DOWN = "down"


class OrderType(enum.Enum):
    """Order types we trade with; each backend maps them to its own wire codes."""

    LIMIT = "limit"
    MARKET = "market"
    CONDITIONAL_LIMIT = "conditional_limit"
    BEST_LIMIT = "best_limit"
    PRIORITY_LIMIT = "priority_limit"
    LIMIT_IOC = "limit_ioc"
    MARKET_IOC = "market_ioc"
    LIMIT_FOK = "limit_fok"
    MARKET_FOK = "market_fok"

    @property
    def needs_price(self) -> bool:
        return self in {
            OrderType.LIMIT,
            OrderType.CONDITIONAL_LIMIT,
            OrderType.LIMIT_IOC,
            OrderType.LIMIT_FOK,
        }


class OrderStatus(enum.Enum):
    """Where an order stands at the broker. Backends map their own status text to these values."""

    ACCEPTED = "accepted"  # live at the exchange, nothing filled (an amend's new order included)
    PARTIALLY_FILLED = "partially_filled"  # some filled, the rest still live
    FILLED = "filled"  # nothing remains
    CANCELLED = "cancelled"  # cancelled (by us, or the rest of an IOC/FOK order)
    REPLACED = "replaced"  # an amend moved all that remained to a new order number
    REJECTED = "rejected"  # refused by the exchange or the broker
    UNKNOWN = "unknown"  # the broker reported a status we do not recognise: reconcile by hand

    @property
    def is_final(self) -> bool:
        return self in {
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REPLACED,
            OrderStatus.REJECTED,
        }


class RankingKind(enum.Enum):
    TRADING_VALUE = "trading_value"
    VOLUME_SURGE = "volume_surge"
    CHANGE_RATE = "change_rate"
    VOLUME = "volume"


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
    price: int | None  # None: no price reported (never 0)
    direction: Direction
    change: int
    change_rate: Decimal | None
    open: int | None
    high: int | None
    low: int | None
    base_price: int | None
    upper_limit: int | None
    lower_limit: int | None
    volume: int
    market_cap_krw: int


@dataclass(frozen=True, slots=True)
class OrderBookLevel:
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderBook:
    code: str
    asks: tuple[OrderBookLevel, ...]  # best first; levels without a price are left out
    bids: tuple[OrderBookLevel, ...]  # best first
    total_ask_quantity: int
    total_bid_quantity: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class MinuteBar:
    """Rows whose prices are missing are left out by the backends: a bar always has its OHLC."""

    code: str
    at: datetime  # bar timestamp as the broker reports it (aware)
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
    value_krw: int  # Kiwoom reports it in 백만원; precision is one million KRW there


@dataclass(frozen=True, slots=True)
class RankingRow:
    rank: int
    code: str
    name: str
    price: int | None
    direction: Direction
    change: int
    change_rate: Decimal | None
    volume: int
    value_krw: int | None  # None where the ranking does not report trading value
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
    total_return_rate: Decimal | None
    estimated_assets: int


@dataclass(frozen=True, slots=True)
class Holding:
    code: str
    name: str
    quantity: int
    sellable_quantity: int
    average_price: int | None
    current_price: int | None
    purchase_amount: int
    evaluation_amount: int
    profit_loss: int
    return_rate: Decimal | None


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
    status: OrderStatus
    order_type_name: str  # the broker's own name for the order type, for display
    quantity: int
    price: int | None  # None for orders without a limit price (market orders)
    remaining: int
    filled_quantity: int
    filled_value: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Fill:
    """One order with its (cumulative) execution, as the broker's execution list reports it."""

    order_no: str
    original_order_no: str | None
    code: str
    name: str
    side: Side
    status: OrderStatus
    order_type_name: str
    order_price: int | None
    order_quantity: int
    fill_price: int | None  # None while nothing is filled
    fill_quantity: int
    remaining: int
    fee: int
    tax: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderState:
    """One order's standing, for reconciliation (`Broker.order_status`)."""

    order_no: str
    code: str
    side: Side
    quantity: int
    filled_quantity: int
    remaining: int
    average_fill_price: int | None
    status: OrderStatus
    is_open: bool


class InstrumentWarning(enum.StrEnum):
    """The exchange's investor-warning designation of a stock (투자유의), in neutral words."""

    NONE = ""
    ETF_CAUTION = "etf_caution"  # ETF 투자주의요망
    LIQUIDATION = "liquidation"  # 정리매매
    OVERHEATED = "overheated"  # 단기과열
    RISK = "risk"  # 투자위험
    WARNING = "warning"  # 투자경고


@dataclass(frozen=True, slots=True)
class Instrument:
    """One listed stock as the broker's stock list describes it. `market` is a `krx.Market` value
    (KOSPI, KOSDAQ, KONEX), or None for a list the broker does not place in one of them (e.g. ETFs).
    `state_flags` are the broker's own remarks (margin rate, loan, credit), shown as they are."""

    code: str
    name: str
    market: Market | None
    market_name: str
    listed_shares: int
    listing_date: date | None
    previous_close: int | None
    sector: str
    size_class: str
    warning: InstrumentWarning = InstrumentWarning.NONE
    is_halted: bool = False  # 거래정지
    is_administrative: bool = False  # 관리종목
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
