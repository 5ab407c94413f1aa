"""Engine-level values the exchange facade takes and returns (NOT Kiwoom-encoded).

Conventions: KRW amounts and prices are plain ints, rates are Decimal (percent where the name says
`_pct`, fractions otherwise), times are aware datetimes in Asia/Seoul, stock codes are 6 characters
without the 'A' prefix. The protocol layer (rest/, ws.py, encode.py) turns these into Kiwoom strings.
Names here are a published contract: add fields (with defaults) rather than rename.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from krx import Market, SessionPhase

__all__ = [
    "ORDER_TYPE_NAMES",
    "AccountSummary",
    "BalanceEvent",
    "Bar",
    "BookLevel",
    "CashInfo",
    "ConditionEvent",
    "ConditionInfo",
    "DailyBar",
    "Event",
    "Fill",
    "Holding",
    "Instrument",
    "Market",
    "OrderAck",
    "OrderAction",
    "OrderBook",
    "OrderEvent",
    "OrderStatus",
    "OrderType",
    "OrderView",
    "PhaseEvent",
    "Quote",
    "SessionPhase",
    "Side",
    "SimRejection",
    "StockStats",
    "Tick",
    "ViEvent",
    "rejection",
]


class Side(StrEnum):
    SELL = "sell"  # Kiwoom 907 = "1"
    BUY = "buy"  # Kiwoom 907 = "2"

    @property
    def kiwoom(self) -> str:
        """Kiwoom 매도수구분 code: '1' sell, '2' buy."""
        return "1" if self is Side.SELL else "2"

    @property
    def korean(self) -> str:
        return "매도" if self is Side.SELL else "매수"


class OrderType(StrEnum):
    """Order types by their Kiwoom `trde_tp` code. The engine executes LIMIT and MARKET; the
    others are accepted where noted in Exchange.place_order."""

    LIMIT = "0"  # 보통
    MARKET = "3"  # 시장가
    CONDITIONAL_LIMIT = "5"  # 조건부지정가: limit, becomes market in the closing auction
    BEST_LIMIT = "6"  # 최유리지정가: limit at the best opposite price
    PRIORITY_LIMIT = "7"  # 최우선지정가: limit at the best same-side price
    LIMIT_IOC = "10"
    MARKET_IOC = "13"
    LIMIT_FOK = "20"
    MARKET_FOK = "23"


ORDER_TYPE_NAMES: dict[str, str] = {
    "0": "보통",
    "3": "시장가",
    "5": "조건부지정가",
    "6": "최유리지정가",
    "7": "최우선지정가",
    "10": "보통(IOC)",
    "13": "시장가(IOC)",
    "16": "최유리(IOC)",
    "20": "보통(FOK)",
    "23": "시장가(FOK)",
    "26": "최유리(FOK)",
    "28": "스톱지정가",
    "29": "중간가",
    "61": "장전시간외",
    "62": "시간외단일가",
    "81": "장후시간외",
}


class OrderAction(StrEnum):
    NEW = "new"
    AMEND = "amend"  # 정정
    CANCEL = "cancel"  # 취소


class OrderStatus(StrEnum):
    """Kiwoom 주문상태 (FID 913 / ord_stt) values, Korean on purpose: they go on the wire as is."""

    ACCEPTED = "접수"
    FILLED = "체결"
    CONFIRMED = "확인"  # confirmation of an amend/cancel
    CANCELLED = "취소"
    REJECTED = "거부"


class SimRejection(Exception):
    """An order or request the exchange refuses. `code` is the host code inside the brackets
    (e.g. '855056', 'RC4058'); `message` is the complete Kiwoom-style return_msg,
    e.g. "[2000](855056:매수증거금이 부족합니다. 2주 매수가능)". The protocol layer answers
    return_code 20 with `message` as return_msg. Nothing changes in the exchange on rejection."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def rejection(code: str, text: str) -> SimRejection:
    """A SimRejection with Kiwoom's message framing: "[2000](code:text)"."""
    return SimRejection(code, f"[2000]({code}:{text})")


# --------------------------------------------------------------------------- market reads
@dataclass(frozen=True, slots=True)
class Instrument:
    code: str
    name: str
    market: Market
    prev_close: int  # 기준가 of the current trading day
    listed_shares: int
    typical_volume: int  # shares per day, drives the synthetic volume
    kospi200: bool = False
    listing_date: dt.date | None = None
    industry: str = ""
    settle_month: str = "12"
    face_value: int = 100
    state: str = "증거금20%|담보대출|신용가능"


@dataclass(frozen=True, slots=True)
class Quote:
    """Basic info and today's running numbers of one stock (ka10001 / ka10100 / 0B-like)."""

    code: str
    name: str
    market: Market
    time: dt.datetime
    phase: SessionPhase
    base_price: int  # 기준가 = previous close
    price: int  # last trade; = base_price before the first trade of the day
    change: int  # price - base_price
    change_rate_pct: Decimal  # 2 decimals, arithmetic sign
    sign: str  # 1 상한가 2 상승 3 보합 4 하한가 5 하락
    open: int  # 0 before the first trade
    high: int
    low: int
    upper_limit: int
    lower_limit: int
    volume: int  # cumulative shares today
    value: int  # cumulative KRW today
    best_ask: int
    best_bid: int
    prev_volume: int  # previous trading day's volume
    prev_value: int
    listed_shares: int
    market_cap: int  # KRW, at the last price
    vwap: int
    high_250d: int
    low_250d: int
    high_250d_date: dt.date | None
    low_250d_date: dt.date | None
    year_high: int
    year_low: int
    expected_price: int = 0  # during a call auction or VI: indicative single price, else 0
    expected_qty: int = 0
    vi_active: bool = False
    face_value: int = 100


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: int
    qty: int
    qty_change: int = 0  # vs the previous book of the same stock (직전대비)


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A synthesised 10-level book on the tick grid around the last price (ka10004 / 0D)."""

    code: str
    time: dt.datetime
    asks: tuple[BookLevel, ...]  # best (lowest) first; absent levels are omitted
    bids: tuple[BookLevel, ...]  # best (highest) first
    total_ask_qty: int
    total_bid_qty: int
    total_ask_change: int = 0
    total_bid_change: int = 0
    expected_price: int = 0  # during auctions / VI
    expected_qty: int = 0


@dataclass(frozen=True, slots=True)
class Bar:
    """A minute bar. `time` is the bar's START minute (Kiwoom cntr_tm convention is ambiguous;
    the end minute is `time + minutes`)."""

    code: str
    time: dt.datetime
    minutes: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    cum_volume: int  # day's cumulative volume at the bar's end (acc_trde_qty)
    prev_close: int  # base price of that day (pred_pre = close - prev_close)


@dataclass(frozen=True, slots=True)
class DailyBar:
    code: str
    date: dt.date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int  # KRW
    prev_close: int
    turnover_pct: Decimal  # volume / listed shares, percent 2 dp


@dataclass(frozen=True, slots=True)
class StockStats:
    """Per-stock numbers the rankings (ka10032/ka10023/ka10027/ka10030) sort and filter on."""

    code: str
    name: str
    market: Market
    price: int
    base_price: int
    change: int
    change_rate_pct: Decimal
    sign: str
    best_ask: int
    best_bid: int
    volume: int
    value: int
    prev_volume: int  # previous day, whole day
    prev_value: int
    prev_volume_same_time: int  # previous day's volume up to the same time of day
    turnover_pct: Decimal
    buy_volume: int  # buy-initiated shares today
    sell_volume: int
    trade_count: int
    ask_qty_total: int  # synthesised book totals
    bid_qty_total: int
    prev_rank_value: int = 0  # rank by traded value on the previous day (1-based, 0 unknown)

    @property
    def strength_pct(self) -> Decimal:
        """체결강도 = buy volume / sell volume × 100."""
        if self.sell_volume == 0:
            return Decimal("0.00") if self.buy_volume == 0 else Decimal("500.00")
        return (Decimal(self.buy_volume) * 100 / self.sell_volume).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class ConditionInfo:
    seq: str
    name: str
    formula: str


# --------------------------------------------------------------------------- account reads
@dataclass(frozen=True, slots=True)
class OrderAck:
    """Answer to place/amend/cancel. `order_no` is the new 7-digit number; for amend/cancel
    `orig_order_no` is the targeted order and `base_order_no` the root order of the chain."""

    account: str
    order_no: str
    orig_order_no: str | None
    base_order_no: str
    code: str
    side: Side
    action: OrderAction
    qty: int  # ordered / amended / cancelled quantity
    price: int
    order_type: OrderType
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order as the account sees it (ka10075 미체결 / ka10076 체결 rows)."""

    account: str
    order_no: str
    orig_order_no: str | None
    base_order_no: str
    code: str
    name: str
    side: Side
    action: OrderAction
    order_type: OrderType
    qty: int
    price: int  # 0 for market orders
    filled_qty: int
    filled_value: int
    remaining_qty: int  # open remainder (0 once filled, cancelled or replaced)
    status: OrderStatus  # last status: 접수 / 체결 / 확인 / 취소 / 거부
    is_open: bool
    time: dt.datetime  # order time
    last_fill_no: str
    last_fill_price: int
    last_fill_qty: int
    commission: int  # fees so far on this order
    tax: int
    cancelled_qty: int = 0

    @property
    def avg_fill_price(self) -> int:
        return self.filled_value // self.filled_qty if self.filled_qty else 0


class Fill(NamedTuple):
    """One execution. A named tuple rather than a frozen dataclass like its neighbours: the ledger
    builds one per fill (a backtest builds thousands a second) and a tuple is built several times
    faster; it is as immutable, read by the same names. Equality is by value."""

    account: str
    fill_no: str
    order_no: str
    orig_order_no: str | None
    code: str
    name: str
    side: Side
    order_type: OrderType
    order_qty: int
    order_price: int
    qty: int
    price: int
    time: dt.datetime
    commission: int
    tax: int
    remaining_qty: int  # order remainder after this fill


@dataclass(frozen=True, slots=True)
class Holding:
    code: str
    name: str
    qty: int
    orderable_qty: int  # qty minus shares held by open sell orders
    avg_price: int  # cost / qty, rounded half up (display only; `cost` is exact)
    cost: int  # total purchase amount of the remaining shares (commission excluded)
    buy_commission: int  # commission paid on the remaining shares' purchases
    price: int
    base_price: int
    eval_amount: int  # qty × price
    eval_pnl: int  # eval_amount - cost (before sell fees/tax)
    pnl_rate_pct: Decimal
    est_sell_commission: int
    est_sell_tax: int
    today_buy_qty: int
    today_sell_qty: int
    today_realized_pnl: int  # net of fees and tax
    realized_pnl: int  # since the account opened, net of fees and tax
    last_side: Side | None = None


@dataclass(frozen=True, slots=True)
class CashInfo:
    """Deposit details (kt00001). Settlement is simplified: cash moves at the fill (no T+2), so
    D+1/D+2 estimates equal the deposit."""

    deposit: int  # 예수금
    held_for_orders: int  # cash reserved by open buy orders incl. estimated commission
    orderable: int  # 주문가능금액 = deposit - held_for_orders
    withdrawable: int
    d1_deposit: int
    d2_deposit: int
    commission_today: int
    tax_today: int
    starting_cash: int


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """Evaluation totals (kt00018 / kt00004)."""

    account: str
    deposit: int
    total_cost: int
    total_eval: int
    total_eval_pnl: int
    total_pnl_rate_pct: Decimal
    estimated_assets: int  # deposit + total_eval
    realized_pnl: int
    today_realized_pnl: int
    starting_cash: int
    commission_total: int
    tax_total: int


# --------------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class Tick:
    """One trade on the simulated tape (0B). `volume` > 0; `side` is the aggressor."""

    code: str
    time: dt.datetime
    price: int
    change: int
    change_rate_pct: Decimal
    sign: str
    volume: int
    side: Side
    cum_volume: int
    cum_value: int  # KRW
    open: int
    high: int
    low: int
    best_ask: int
    best_bid: int
    base_price: int
    prev_volume: int
    prev_volume_same_time: int
    turnover_pct: Decimal
    strength_pct: Decimal
    market_cap: int  # KRW
    vwap: int
    buy_volume: int  # cumulative buy-initiated shares
    sell_volume: int
    buy_count: int
    sell_count: int
    open_time: dt.datetime | None
    high_time: dt.datetime | None
    low_time: dt.datetime | None
    upper_limit_time: dt.datetime | None
    lower_limit_time: dt.datetime | None
    auction: bool = False  # single-price match (open/close auction or VI end)
    phase: SessionPhase = SessionPhase.CONTINUOUS


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Order lifecycle event (00). Emitted for 접수 (new/amend/cancel accepted), each 체결, 확인
    (amend/cancel confirmed), 취소 (remainder cancelled, e.g. IOC or day end) and 거부."""

    account: str
    time: dt.datetime
    status: OrderStatus
    order_no: str
    orig_order_no: str | None
    base_order_no: str
    code: str
    name: str
    side: Side
    action: OrderAction
    order_type: OrderType
    order_qty: int
    order_price: int
    remaining_qty: int
    filled_qty: int  # cumulative on this order
    filled_value: int  # cumulative KRW on this order
    fill_no: str = ""  # this fill's number (체결 only)
    fill_price: int = 0  # this fill (단위체결가)
    fill_qty: int = 0  # this fill (단위체결량)
    commission: int = 0  # cumulative on this order
    tax: int = 0
    reject_reason: str = ""
    price: int = 0  # market last price
    best_ask: int = 0
    best_bid: int = 0

    @property
    def avg_fill_price(self) -> int:
        return self.filled_value // self.filled_qty if self.filled_qty else 0


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """Position after a fill (04)."""

    account: str
    time: dt.datetime
    code: str
    name: str
    qty: int
    avg_price: int
    cost: int
    orderable_qty: int
    today_net_buy_qty: int
    side: Side  # side of the fill that caused this event
    today_realized_pnl: int
    realized_pnl_rate_pct: Decimal
    price: int
    best_ask: int
    best_bid: int
    base_price: int
    deposit: int
    orderable_cash: int


@dataclass(frozen=True, slots=True)
class ConditionEvent:
    seq: str
    code: str
    kind: str  # 'I' inserted, 'D' deleted
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class ViEvent:
    code: str
    name: str
    market: Market
    time: dt.datetime
    active: bool  # True = 발동, False = 해제
    kind: str  # 'static' | 'dynamic' | 'both'
    trigger_price: int
    static_ref: int
    dynamic_ref: int
    static_gap_pct: Decimal
    dynamic_gap_pct: Decimal
    release_time: dt.datetime
    count: int  # VIs of this stock today
    up: bool  # direction of the triggering move
    cum_volume: int
    cum_value: int


@dataclass(frozen=True, slots=True)
class PhaseEvent:
    """Market phase change (0s). `kiwoom_code` is FID 215: '0' 장시작전 (08:30 here), '3' 장시작
    (09:00), '2' 장마감 동시호가 (15:20), '4' 장마감 (15:30), '8' 정규장마감 (after 15:30)."""

    time: dt.datetime
    phase: SessionPhase
    kiwoom_code: str
    trading_day: dt.date = field(default=dt.date(1970, 1, 1))


Event = Tick | OrderEvent | BalanceEvent | ConditionEvent | ViEvent | PhaseEvent
