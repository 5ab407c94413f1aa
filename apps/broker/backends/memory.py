"""An in-memory broker for unit tests of the apps: deterministic, no sockets, no Redis.

Tests seed it (`set_quote`, `set_cash`, `set_holding`, `add_condition`), drive it (`fill`,
`fail_next`) and inspect it (`orders`, `calls`). Market orders fill at once at the quote price;
limit orders rest until a test calls `fill`. Realtime feeds receive the order/balance events
the broker generates plus anything a test `emit`s.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from apps.broker.contract import (
    AmendAck,
    Balance,
    Broker,
    BrokerError,
    CancelAck,
    Condition,
    ConditionHit,
    DailyBar,
    Direction,
    EventHandler,
    Exchange,
    Fill,
    Holding,
    Instrument,
    InvalidRequest,
    MinuteBar,
    OpenOrder,
    OrderAck,
    OrderBook,
    OrderBookLevel,
    OrderRejected,
    OrderState,
    OrderStatus,
    OrderType,
    Quote,
    RankingKind,
    RankingRow,
    RealtimeEvent,
    RealtimeFeed,
    Side,
    TokenInfo,
)
from apps.broker.kiwoom.events import make_balance_event, make_order_event
from krx import KST
from krx.markets import Market


@dataclass
class MemoryOrder:
    order_no: str
    code: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int
    remaining: int
    original_order_no: str | None = None
    filled_quantity: int = 0
    filled_value: int = 0
    status: OrderStatus = OrderStatus.ACCEPTED
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_open(self) -> bool:
        return self.remaining > 0 and not self.status.is_final


def quote_for(code: str, price: int, name: str = "", volume: int = 0) -> Quote:
    """A plausible quote for tests: flat day, ±30 % limits."""
    return Quote(
        code=code,
        name=name or code,
        price=price,
        direction=Direction.FLAT,
        change=0,
        change_rate=Decimal("0.00"),
        open=price,
        high=price,
        low=price,
        base_price=price,
        upper_limit=price * 13 // 10,
        lower_limit=price * 7 // 10,
        volume=volume,
        market_cap_krw=0,
    )


class MemoryRealtimeFeed(RealtimeFeed):
    def __init__(self, broker: MemoryBroker, on_event: EventHandler | None) -> None:
        self._broker = broker
        self._on_event = on_event
        self.queue: asyncio.Queue[RealtimeEvent] = asyncio.Queue()
        self.ticks: set[str] = set()
        self.vi: set[str] = set()
        self.account = False
        self.realtime_conditions: set[str] = set()
        self._started = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._started += 1
        self._broker._feeds.append(self)

    async def close(self) -> None:
        if self in self._broker._feeds:
            self._broker._feeds.remove(self)

    async def subscribe_ticks(self, codes: list[str], group: str = "1") -> None:
        self.ticks.update(codes)

    async def unsubscribe_ticks(self, codes: list[str], group: str = "1") -> None:
        self.ticks.difference_update(codes)

    async def subscribe_vi(self, codes: list[str], group: str = "1") -> None:
        self.vi.update(codes)

    async def unsubscribe_vi(self, codes: list[str], group: str = "1") -> None:
        self.vi.difference_update(codes)

    async def subscribe_account(self) -> None:
        self.account = True

    async def conditions(self) -> list[Condition]:
        return self._broker.conditions()

    async def condition_search(self, seq: str) -> list[ConditionHit]:
        return self._broker.condition_search(seq)

    async def subscribe_condition(self, seq: str) -> list[ConditionHit]:
        self.realtime_conditions.add(seq)
        return self._broker.condition_search(seq)

    async def unsubscribe_condition(self, seq: str) -> None:
        self.realtime_conditions.discard(seq)

    def subscribed_conditions(self) -> frozenset[str]:
        return frozenset(self.realtime_conditions)

    @property
    def connections(self) -> int:
        return self._started

    def deliver(self, event: RealtimeEvent) -> None:
        """Hand an event to the feed (thread-safe)."""
        if self._loop is None:
            return
        if self._on_event is not None:
            handler = self._on_event

            def _call() -> None:
                result = handler(event)
                if asyncio.iscoroutine(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

            self._loop.call_soon_threadsafe(_call)
        else:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, event)


class MemoryBroker(Broker):
    def __init__(
        self, cash: int = 100_000_000, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._lock = threading.RLock()
        self.clock = clock
        self.cash = cash
        self.quotes: dict[str, Quote] = {}
        self.instrument_list: list[Instrument] = []
        self.positions: dict[str, tuple[int, int]] = {}  # code → (quantity, average price)
        self.orders: dict[str, MemoryOrder] = {}
        self.fill_log: list[Fill] = []
        self.condition_defs: dict[str, tuple[str, list[str]]] = {}
        self.rankings_data: dict[RankingKind, list[RankingRow]] = {}
        self.bars: dict[str, list[MinuteBar]] = {}
        self.days: dict[str, list[DailyBar]] = {}
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self._fail: list[BrokerError] = []
        self._next_no = 1
        self._feeds: list[MemoryRealtimeFeed] = []

    # ------------------------------------------------------------------ test controls
    def set_quote(self, code: str, price: int, name: str = "") -> Quote:
        q = quote_for(code, price, name)
        self.quotes[code] = q
        return q

    def set_cash(self, cash: int) -> None:
        self.cash = cash

    def set_holding(self, code: str, quantity: int, average_price: int) -> None:
        self.positions[code] = (quantity, average_price)

    def add_condition(self, seq: str, name: str, codes: list[str]) -> None:
        self.condition_defs[seq] = (name, list(codes))

    def fail_next(self, error: BrokerError) -> None:
        """The next broker call raises `error` (e.g. AmbiguousOutcome, RateLimited)."""
        self._fail.append(error)

    def emit(self, event: RealtimeEvent) -> None:
        for feed in list(self._feeds):
            feed.deliver(event)

    def _enter(self, name: str, *args: object) -> None:
        self.calls.append((name, args))
        if self._fail:
            raise self._fail.pop(0)

    def _quote(self, code: str) -> Quote:
        q = self.quotes.get(code)
        if q is None:
            raise InvalidRequest(f"종목 정보가 없습니다. 종목코드={code}", "1902")
        return q

    # ------------------------------------------------------------------ orders
    def place_order(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType = OrderType.LIMIT,
        price: int | None = None,
        exchange: Exchange = Exchange.KRX,
    ) -> OrderAck:
        with self._lock:
            self._enter("place_order", side, code, quantity, order_type, price)
            q = self._quote(code)
            if quantity <= 0:
                raise InvalidRequest("quantity must be positive")
            if order_type.needs_price and not price:
                raise InvalidRequest(f"{order_type.name} needs a price")
            limit = price if order_type.needs_price and price else q.price
            if not q.lower_limit <= limit <= q.upper_limit:
                raise OrderRejected("RC4027", "주문가격이 상하한가를 벗어났습니다")
            if side is Side.BUY and limit * quantity > self.cash:
                raise OrderRejected("855056", "매수증거금이 부족합니다.")
            if side is Side.SELL and self.positions.get(code, (0, 0))[0] < quantity:
                raise OrderRejected("800033", "매도가능수량이 부족합니다.")
            order = MemoryOrder(
                self._new_no(), code, side, order_type, quantity, limit, quantity, at=self.clock()
            )
            self.orders[order.order_no] = order
            self._order_event(order, OrderStatus.ACCEPTED)
            if order_type in (OrderType.MARKET, OrderType.MARKET_IOC, OrderType.MARKET_FOK):
                self._fill(order, quantity, q.price)
            return OrderAck(order.order_no, exchange.value)

    def _new_no(self) -> str:
        no = f"{self._next_no:07d}"
        self._next_no += 1
        return no

    def _order_event(
        self,
        o: MemoryOrder,
        status: OrderStatus,
        fill_price: int | None = None,
        fill_qty: int | None = None,
    ) -> None:
        self.emit(
            make_order_event(
                o.order_no,
                o.code,
                status,
                o.side,
                o.quantity,
                o.price,
                o.remaining,
                self.clock(),
                fill_price=fill_price,
                fill_quantity=fill_qty,
                original_order_no=o.original_order_no,
                filled_quantity=o.filled_quantity,
            )
        )

    def fill(self, order_no: str, quantity: int | None = None, price: int | None = None) -> None:
        """Test control: execute (part of) a resting order."""
        with self._lock:
            o = self.orders[order_no]
            self._fill(o, quantity or o.remaining, price or o.price)

    def _fill(self, o: MemoryOrder, quantity: int, price: int) -> None:
        quantity = min(quantity, o.remaining)
        o.remaining -= quantity
        o.filled_quantity += quantity
        o.filled_value += quantity * price
        o.status = OrderStatus.FILLED if not o.remaining else OrderStatus.PARTIALLY_FILLED
        held, avg = self.positions.get(o.code, (0, 0))
        if o.side is Side.BUY:
            self.cash -= quantity * price
            new_qty = held + quantity
            avg = (held * avg + quantity * price) // new_qty
            held = new_qty
        else:
            self.cash += quantity * price
            held -= quantity
        if held:
            self.positions[o.code] = (held, avg)
        else:
            self.positions.pop(o.code, None)
        self.fill_log.insert(
            0,
            Fill(
                o.order_no,
                o.original_order_no,
                o.code,
                self.quotes[o.code].name,
                o.side,
                o.status,
                "시장가" if o.order_type is OrderType.MARKET else "보통",
                o.price,
                o.quantity,
                o.filled_value // o.filled_quantity,
                o.filled_quantity,
                o.remaining,
                0,
                0,
                self.clock(),
            ),
        )
        self._order_event(o, o.status, price, quantity)
        self.emit(make_balance_event(o.code, held, avg, price, self.clock()))

    def _open(self, order_no: str) -> MemoryOrder:
        o = self.orders.get(order_no)
        if o is None or not o.is_open:
            raise OrderRejected("800100", "정정/취소할 수량이 없습니다.")
        return o

    def amend_order(self, order_no: str, code: str, quantity: int, price: int) -> AmendAck:
        with self._lock:
            self._enter("amend_order", order_no, code, quantity, price)
            old = self._open(order_no)
            qty = quantity or old.remaining
            if qty > old.remaining:
                raise OrderRejected("800101", "정정수량이 잔량을 초과합니다.")
            old.remaining -= qty
            if not old.remaining:
                old.status = OrderStatus.REPLACED
            new = replace(
                old,
                order_no=self._new_no(),
                quantity=qty,
                remaining=qty,
                price=price,
                original_order_no=old.order_no,
                filled_quantity=0,
                filled_value=0,
                status=OrderStatus.ACCEPTED,
                at=self.clock(),
            )
            self.orders[new.order_no] = new
            self._order_event(new, OrderStatus.ACCEPTED)
            return AmendAck(new.order_no, old.order_no, qty)

    def cancel_order(self, order_no: str, code: str, quantity: int = 0) -> CancelAck:
        with self._lock:
            self._enter("cancel_order", order_no, code, quantity)
            o = self._open(order_no)
            qty = min(quantity or o.remaining, o.remaining)
            o.remaining -= qty
            if not o.remaining:
                o.status = OrderStatus.CANCELLED
            self._order_event(o, OrderStatus.CANCELLED)
            return CancelAck(self._new_no(), o.order_no, qty)

    # ------------------------------------------------------------------ account
    def order_status(self, order_no: str) -> OrderState | None:
        with self._lock:
            self._enter("order_status", order_no)
            o = self.orders.get(order_no)
            if o is None:
                return None
            avg = o.filled_value // o.filled_quantity if o.filled_quantity else None
            return OrderState(
                o.order_no,
                o.code,
                o.side,
                o.quantity,
                o.filled_quantity,
                o.remaining,
                avg,
                o.status,
                o.is_open,
            )

    def open_orders(self, code: str | None = None) -> list[OpenOrder]:
        with self._lock:
            self._enter("open_orders", code)
            return [
                OpenOrder(
                    o.order_no,
                    o.original_order_no,
                    o.code,
                    self.quotes[o.code].name,
                    o.side,
                    o.status,
                    "보통",
                    o.quantity,
                    o.price,
                    o.remaining,
                    o.filled_quantity,
                    o.filled_value,
                    o.at,
                )
                for o in self.orders.values()
                if o.is_open and (code is None or o.code == code)
            ]

    def fills(self, code: str | None = None) -> list[Fill]:
        with self._lock:
            self._enter("fills", code)
            return [f for f in self.fill_log if code is None or f.code == code]

    def holdings(self) -> list[Holding]:
        with self._lock:
            self._enter("holdings")
            out = []
            for code, (qty, avg) in self.positions.items():
                q = self.quotes.get(code) or quote_for(code, avg)
                pl = (q.price - avg) * qty
                rate = (
                    (Decimal(pl) * 100 / (avg * qty)).quantize(Decimal("0.01"))
                    if avg
                    else Decimal(0)
                )
                out.append(
                    Holding(
                        code, q.name, qty, qty, avg, q.price, avg * qty, q.price * qty, pl, rate
                    )
                )
            return out

    def balance(self) -> Balance:
        with self._lock:
            holdings = self.holdings()
            self._enter("balance")
            purchase = sum(h.purchase_amount for h in holdings)
            evaluation = sum(h.evaluation_amount for h in holdings)
            pl = evaluation - purchase
            rate = (
                (Decimal(pl) * 100 / purchase).quantize(Decimal("0.01")) if purchase else Decimal(0)
            )
            return Balance(
                self.cash,
                self.cash,
                self.cash,
                self.cash,
                purchase,
                evaluation,
                pl,
                rate,
                self.cash + evaluation,
            )

    # ------------------------------------------------------------------ market data
    def quote(self, code: str) -> Quote:
        with self._lock:
            self._enter("quote", code)
            return self._quote(code)

    def order_book(self, code: str) -> OrderBook:
        with self._lock:
            self._enter("order_book", code)
            q = self._quote(code)
            return OrderBook(
                code,
                (OrderBookLevel(q.price, 100),),
                (OrderBookLevel(q.price - 1, 100),),
                100,
                100,
                None,
            )

    def rankings(self, kind: RankingKind, **filters: str) -> list[RankingRow]:
        self._enter("rankings", kind)
        return list(self.rankings_data.get(kind, []))

    def minute_bars(
        self, code: str, minutes: int = 1, max_pages: int | None = 1
    ) -> list[MinuteBar]:
        self._enter("minute_bars", code, minutes)
        return list(self.bars.get(code, []))

    def daily_bars(
        self, code: str, base_date: date | None = None, max_pages: int | None = 1
    ) -> list[DailyBar]:
        self._enter("daily_bars", code, base_date)
        return [d for d in self.days.get(code, []) if base_date is None or d.day <= base_date]

    def instruments(self, market: Market = Market.KOSPI) -> list[Instrument]:
        self._enter("instruments", market)
        return [i for i in self.instrument_list if i.market == market]

    # ------------------------------------------------------------------ conditions, realtime
    def conditions(self) -> list[Condition]:
        self._enter("conditions")
        return [Condition(seq, name) for seq, (name, _) in sorted(self.condition_defs.items())]

    def condition_search(self, seq: str) -> list[ConditionHit]:
        self._enter("condition_search", seq)
        if seq not in self.condition_defs:
            raise InvalidRequest(f"unknown condition {seq}")
        return [ConditionHit(code=c) for c in self.condition_defs[seq][1]]

    def realtime(self, on_event: EventHandler | None = None) -> MemoryRealtimeFeed:
        return MemoryRealtimeFeed(self, on_event)

    def token_status(self) -> TokenInfo:
        return TokenInfo("memory", datetime.now(KST) + timedelta(hours=24), True)
