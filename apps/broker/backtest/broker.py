"""The in-process backtest broker: the `Broker` contract on a historical clock, built from the
simulator's matching book and account ledger (apps/broker/simulator: matching.py, ledger.py,
accounts.py) and the KRX rules package. No Django, no sockets, no threads.

The caller feeds bars (or trades, `on_print`) in time order (`begin_day`, `on_bar`, `end_day`);
the clock is the end of the last bar fed, so an order placed after bar t is matched from bar t+1
on and can never see the bar it was decided on (no look-ahead).

The fill model, per bar of a code, is in `fills.py` (README, "Backtest broker").
Orders: limit and market only, on the tick grid and inside the day's limits, sized within cash
and sellable shares; anything else is refused with the contract's errors and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from apps.broker.contract import (
    AmendAck,
    Balance,
    Broker,
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
from apps.broker.simulator import dto as sim
from apps.broker.simulator.accounts import Order
from apps.broker.simulator.clock import ManualClock
from apps.broker.simulator.ledger import Ledger
from apps.broker.simulator.matching import Book, fill_price, priority
from krx import DEFAULT_COMMISSION_RATE, KST, change_sign, is_on_tick, price_limits, step_ticks
from krx.markets import Market

from .events import BacktestBalanceEvent
from .fills import (
    DayState,
    bar_fill_price,
    contract_side,
    day_window,
    fill_record,
    open_order_record,
    order_event,
    order_status,
)

ACCOUNT = "BACKTEST"
_BUY, _SELL = sim.Side.BUY, sim.Side.SELL  # module constants: an enum member lookup costs per use
_DIRECTION = {
    "1": Direction.UPPER_LIMIT,
    "2": Direction.UP,
    "3": Direction.FLAT,
    "4": Direction.LOWER_LIMIT,
    "5": Direction.DOWN,
}


class BacktestBroker(Broker):
    """One paper account matched against historical bars (see the module docstring)."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        start: dt.datetime,
        *,
        cash: int = 100_000_000,
        commission_rate: Decimal = DEFAULT_COMMISSION_RATE,
        participation: Decimal = Decimal("0.1"),
        slippage_ticks: int = 1,
        account: str = ACCOUNT,
        keep_bars: bool = True,
        events: bool = True,
    ) -> None:
        if not Decimal(0) < participation <= Decimal(1):
            raise ValueError("participation must be in (0, 1]")
        if slippage_ticks < 0:
            raise ValueError("slippage_ticks must be >= 0")
        self.clock = ManualClock(start.astimezone(KST))
        self.participation = participation
        self._participation_ratio = participation.as_integer_ratio()
        self.slippage_ticks = slippage_ticks
        self.account = account
        self.instruments_by_code: dict[str, sim.Instrument] = {}
        self._listed: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.market is None:
                raise ValueError(f"{inst.code}: a backtest instrument needs its market")
            self._listed[inst.code] = inst
            self.instruments_by_code[inst.code] = sim.Instrument(
                inst.code, inst.name, inst.market, inst.previous_close or 0,
                inst.listed_shares, 0,
            )  # fmt: skip
        self.ledger = Ledger(cash, commission_rate)
        self.ledger.open_account(account, cash)
        self.book = Book()
        self.days: dict[str, DayState] = {}
        self.trading_day: dt.date | None = None
        # Every bar fed, for `minute_bars`; a long run that never asks for them (the backtest runner:
        # a year of 100 codes is ~9 M bars) switches this off.
        self.keep_bars = keep_bars
        self.bars: dict[str, list[MinuteBar]] = {}
        self.orders: dict[str, Order] = {}  # every order of the run by number (never reset)
        self.fill_log: list[sim.Fill] = []  # every execution of the run, in time order
        self.events: list[RealtimeEvent] = []  # undrained order/balance events
        # `events=False`: no order/balance events are built (`on_bar`, `end_day` and `drain` return
        # none) unless a handler subscribes; for a caller that reads fills from `fill_log` and
        # orders from `order_status` (the backtest runner): a fill then costs a third less.
        self.emit_events = events
        self._handlers: list[EventHandler] = []
        self._replaced: set[str] = set()  # orders whose remainder an amend closed
        self._last_fill_at: dict[str, dt.datetime] = {}
        self._bar_at: dt.datetime | None = None  # the last bar's end, not yet converted (`now`)
        self._last_at: dt.datetime = self.clock.now()  # the latest time fed (bars and prints)
        # (tzinfo, start, end) of the trading day in the zone of the bars fed (`fills.day_window`).
        self._window: tuple[dt.tzinfo | None, dt.datetime, dt.datetime] | None = None

    # ================================================================== the historical clock
    # A bar moves the clock to its end without converting it to Seoul time (a zone conversion per
    # bar is a tenth of a bar's cost): `_bar_at` holds the last bar's end as given, and `now()`
    # converts it the first time something asks (an order, a fill, an event).
    def now(self) -> dt.datetime:
        at = self._bar_at
        if at is not None:
            self._bar_at = None
            self.clock.set(at)
        return self.clock.now()

    def begin_day(self, day: dt.date, base_prices: dict[str, int] | None = None) -> None:
        """Start trading day `day`: each code's base price (the previous close, adjusted when a
        corporate action happened) sets its price limits; without one the last close fed is
        used. Orders still open from an unfinished day expire first."""
        if self.trading_day is not None and day <= self.trading_day:
            raise ValueError(f"{day} is not after the current trading day {self.trading_day}")
        if self.trading_day is not None:
            self.end_day()
        bases = dict(base_prices or {})
        self.trading_day = day
        start = dt.datetime.combine(day, dt.time(8, 0), tzinfo=KST)
        self.clock.set(max(self.now(), start))
        self._last_at = self.clock.now()
        self._window = None
        previous, self.days = self.days, {}
        for code, inst in self.instruments_by_code.items():
            base = bases.get(code) or (previous[code].close if code in previous else 0)
            base = base or inst.prev_close
            if base > 0:
                self.days[code] = DayState(base, price_limits(base, inst.market, day))

    def on_bar(self, bar: MinuteBar) -> list[RealtimeEvent]:
        """Feed one bar (`bar.at` its END, aware); match the open orders of its code against it.
        Returns the order and balance events it produced (also kept in `events`)."""
        # The hot path of a long run: kept flat (comparisons, no helper calls) for the throughput goal.
        code, o, h, low, c, at = bar.code, bar.open, bar.high, bar.low, bar.close, bar.at
        window = self._window
        if window is None or window[0] is not at.tzinfo:
            if self.trading_day is None or at.tzinfo is None:
                raise ValueError(f"bar at {at} is outside the trading day {self.trading_day}")
            self._window = (at.tzinfo, *day_window(self.trading_day, at.tzinfo))
            lo, hi = self._window[1], self._window[2]
        else:
            lo, hi = window[1], window[2]
        if not lo <= at < hi:
            raise ValueError(f"bar at {at} is outside the trading day {self.trading_day}")
        if at < self._last_at:
            raise ValueError(f"bars must come in time order: {at} < {self._last_at}")
        if not (low <= o <= h and low <= c <= h):  # low <= min(open, close) <= max(...) <= high
            raise ValueError(f"an impossible bar: {bar}")
        day = self.days.get(code)  # `days` holds known codes only: an unknown one is caught below
        if day is None:
            if code not in self.instruments_by_code:
                raise ValueError(f"unknown code {code}")
            market = self.instruments_by_code[code].market
            day = self.days[code] = DayState(o, price_limits(o, market, self.trading_day))
        self._bar_at = self._last_at = at  # the clock; converted to Seoul time when asked (`now`)
        if self.book.working.get(code):  # nothing to match on most bars
            events = self.events
            before = len(events)
            self._match(bar, day)
            out = events[before:]
        else:
            out = []
        if not day.open:
            day.open, day.high, day.low = o, h, low
        elif h > day.high:
            day.high = h
        if low < day.low:
            day.low = low
        day.close = c
        day.volume += bar.volume
        if self.keep_bars:
            kept = self.bars.get(code)
            if kept is None:
                kept = self.bars[code] = []
            kept.append(bar)
        return out

    def on_print(
        self, code: str, at: dt.datetime, price: int, volume: int, *, auction: bool = False
    ) -> list[RealtimeEvent]:
        """Feed one trade instead of bars (e.g. the prints the simulator streams for a replayed
        minute): resting orders fill by the simulator's own rule (matching.py) — a limit order
        at its limit, a market order at the print moved `slippage_ticks` against it, everything
        at the single price in an auction — sharing floor(volume × participation) among all
        open orders of the code in price-time priority. Use prints or bars for a code, not
        both."""
        if self.trading_day is None or at.astimezone(KST).date() != self.trading_day:
            raise ValueError(f"a print at {at} is outside the trading day {self.trading_day}")
        if at < self.now():
            raise ValueError(f"prints must come in time order: {at} < {self.now()}")
        inst = self.instruments_by_code.get(code)
        if inst is None or price <= 0 or volume <= 0:
            raise ValueError(f"a bad print: {code} {price} x {volume}")
        day = self.days.get(code)
        if day is None:
            day = self.days[code] = DayState(price, price_limits(price, inst.market, at.date()))
        self.clock.set(at.astimezone(KST))
        self._last_at = at
        before = len(self.events)
        when, trade_date = self.clock.now(), self.trading_day

        def fill(o: Order, qty: int) -> None:
            at_price = fill_price(
                o, price, auction, self.slippage_ticks, day.limits, inst.market, trade_date
            )
            done = self.ledger.book_fill(o, qty, at_price, when, trade_date)
            self.fill_log.append(done)
            self._last_fill_at[o.order_no] = when
            self._order_event(o, done)
            self._balance_event(code, price)

        self.book.match_print(code, price, int(Decimal(volume) * self.participation), fill)
        if not day.open:
            day.open = day.high = day.low = price
        day.high, day.low, day.close = max(day.high, price), min(day.low, price), price
        day.volume += volume
        return self.events[before:]

    def end_day(self) -> list[RealtimeEvent]:
        """The close: open remainders expire (a cancellation event each)."""
        before = len(self.events)
        for o in self.book.open_orders():
            self.ledger.cancel_remainder(o, o.remaining)
            self._order_event(o)
        self.book.clear()
        self.ledger.new_day()
        return self.events[before:]

    def drain(self) -> list[RealtimeEvent]:
        """The order/balance events since the last drain."""
        out, self.events = self.events, []
        return out

    def _status_of(self, o: Order) -> OrderStatus:
        return order_status(o, o.order_no in self._replaced)

    # ================================================================== matching
    def _match(self, bar: MinuteBar, day: DayState) -> None:
        orders = [o for o in self.book.working.get(bar.code, []) if o.is_open]
        if not orders or bar.volume <= 0:
            return
        num, den = self._participation_ratio
        cap = bar.volume * num // den  # floor(volume × participation), exact in integers
        lower, upper = day.limits
        market = self.instruments_by_code[bar.code].market
        trade_date, now = self.trading_day, self.now()
        assert trade_date is not None  # on_bar refuses a bar before begin_day
        emit = self.emit_events or self._handlers
        # Each side shares the cap in price-time priority; one order (the usual case) needs no split.
        if len(orders) == 1:
            queues: tuple[tuple[sim.Side, list[Order]], ...] = ((orders[0].side, orders),)
        else:
            queues = (
                (_BUY, sorted((o for o in orders if o.side is _BUY), key=priority)),
                (_SELL, sorted((o for o in orders if o.side is _SELL), key=priority)),
            )
        for side, queue in queues:
            if side is _BUY and bar.low >= upper:
                continue  # locked at the upper limit: no buy fills
            if side is _SELL and bar.high <= lower:
                continue  # locked at the lower limit: no sell fills
            liquidity = cap
            for o in queue:
                if liquidity <= 0:
                    break
                price = bar_fill_price(o, bar, day, market, self.slippage_ticks, trade_date)
                if price is None:
                    continue
                qty = min(o.remaining, liquidity)
                liquidity -= qty
                fill = self.ledger.book_fill(o, qty, price, now, trade_date)
                self.fill_log.append(fill)
                self._last_fill_at[o.order_no] = now
                if emit:
                    self._order_event(o, fill)
                    self._balance_event(o.code, bar.close)
        self.book.prune(bar.code)

    # ================================================================== events
    def _emit(self, event: RealtimeEvent) -> None:
        self.events.append(event)
        for handler in self._handlers:
            handler(event)

    def _order_event(self, o: Order, fill: sim.Fill | None = None) -> None:
        if self.emit_events or self._handlers:
            self._emit(order_event(o, self._status_of(o), self.now(), fill))

    def _balance_event(self, code: str, mark: int) -> None:
        if not (self.emit_events or self._handlers):
            return
        acct = self.ledger.account(self.account)
        pos = acct.positions.get(code)
        qty = pos.qty if pos else 0
        day = self.days.get(code)
        self._emit(
            BacktestBalanceEvent(
                code=code, day=self.now().date(), account=self.account,
                name=self.instruments_by_code[code].name, quantity=qty,
                average_price=(2 * pos.cost + qty) // (2 * qty) if pos and qty else None,
                purchase_amount=pos.cost if pos else 0,
                sellable_quantity=acct.sellable_qty(code), current_price=mark,
                base_price=day.base if day else None,
                realized_profit_loss=pos.realized if pos else 0,
            )
        )  # fmt: skip

    # ================================================================== orders
    def place_order(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType = OrderType.LIMIT,
        price: int | None = None,
        exchange: Exchange = Exchange.KRX,
    ) -> OrderAck:
        o = self._submit(side, code, quantity, order_type, price, None)
        return OrderAck(o.order_no, exchange.value)

    def _submit(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType,
        price: int | None,
        original: str | None,
    ) -> Order:
        inst = self.instruments_by_code.get(code)
        if inst is None:
            raise InvalidRequest(f"종목 정보가 없습니다. 종목코드={code}", "1902")
        if order_type not in (OrderType.LIMIT, OrderType.MARKET):
            raise InvalidRequest(
                f"the backtest broker takes limit and market orders, not {order_type.name}"
            )
        if quantity <= 0:
            raise InvalidRequest("quantity must be positive")
        day = self.days.get(code)
        if self.trading_day is None or day is None:
            raise OrderRejected(
                "571489", "장이 열리지 않는 날입니다 (no trading day or no price yet)"
            )
        lower, upper = day.limits
        if order_type is OrderType.LIMIT:
            if price is None or price <= 0:
                raise InvalidRequest("a limit order needs a price")
            if not is_on_tick(price, inst.market, self.trading_day):
                raise OrderRejected("RC4026", f"호가단위에 맞지 않는 가격입니다. {price}")
            if not lower <= price <= upper:
                raise OrderRejected("RC4027", f"주문가격이 상하한가를 벗어났습니다. {price}")
            kind, limit, hold = sim.OrderType.LIMIT, price, price
        else:
            kind, limit, hold = sim.OrderType.MARKET, 0, upper  # a market buy holds the upper limit
        sim_side = _BUY if side is Side.BUY else _SELL  # no dict: an Enum's hash runs in Python
        try:
            o = self.ledger.new_order(
                self.account, sim_side, inst, quantity, limit, kind, hold, self.now()
            )
        except sim.SimRejection as exc:
            raise OrderRejected(exc.code, exc.message) from exc
        # Order numbers run over the whole backtest: the ledger's counter is never reset here.
        o.orig_order_no = original
        self.orders[o.order_no] = o
        self.book.add(o)
        self._order_event(o)
        return o

    def _open(self, order_no: str, code: str) -> Order:
        o = self.orders.get(order_no)
        if o is None or o.code != code:
            raise OrderRejected("RC4031", f"원주문번호를 확인하세요. 원주문번호={order_no}")
        if not o.is_open:
            raise OrderRejected("RC4032", "정정/취소할 수 있는 미체결 수량이 없습니다.")
        return o

    def amend_order(self, order_no: str, code: str, quantity: int, price: int) -> AmendAck:
        """Amend = cancel the amended part and place it anew at `price` (new order number)."""
        old = self._open(order_no, code)
        qty = quantity or old.remaining
        if qty > old.remaining:
            raise OrderRejected("RC4033", "정정수량이 잔량을 초과합니다.")
        if old.side is sim.Side.BUY:
            # The new order is checked against the cash this one frees.
            status = old.status
            self.ledger.cancel_remainder(old, qty)
            try:
                new = self._submit(Side.BUY, code, qty, OrderType.LIMIT, price, old.order_no)
            except Exception:
                old.remaining += qty
                old.cancelled_qty -= qty
                old.is_open, old.status = True, status
                self.ledger.accounts[self.account].hold(old)
                raise
        else:
            day = self.days[code]
            if not is_on_tick(price, old.market, self.trading_day or dt.date.min) or not (
                day.limits[0] <= price <= day.limits[1]
            ):
                raise OrderRejected("RC4027", f"주문가격을 확인하세요. {price}")
            self.ledger.cancel_remainder(old, qty)
            new = self._submit(Side.SELL, code, qty, OrderType.LIMIT, price, old.order_no)
        if not old.is_open:
            self._replaced.add(old.order_no)
        self.book.prune(code)
        self._order_event(old)
        return AmendAck(new.order_no, old.order_no, qty)

    def cancel_order(self, order_no: str, code: str, quantity: int = 0) -> CancelAck:
        o = self._open(order_no, code)
        qty = min(quantity or o.remaining, o.remaining)
        self.ledger.cancel_remainder(o, qty)
        self.book.prune(code)
        self._order_event(o)
        return CancelAck(self.ledger.next_order_no(self.account), o.order_no, qty)

    # ================================================================== account
    def order_status(self, order_no: str) -> OrderState | None:
        o = self.orders.get(order_no)
        if o is None:
            return None
        avg = o.filled_value // o.filled_qty if o.filled_qty else None
        return OrderState(
            o.order_no, o.code, contract_side(o.side), o.qty, o.filled_qty, o.remaining, avg,
            self._status_of(o), o.is_open,
        )  # fmt: skip

    def open_orders(self, code: str | None = None) -> list[OpenOrder]:
        return [
            open_order_record(o, self._status_of(o))
            for o in self.orders.values()
            if o.is_open and (code is None or o.code == code)
        ]

    def fills(self, code: str | None = None) -> list[Fill]:
        """Orders with executions, cumulative per order like Kiwoom's execution list (newest
        first); every single execution is in `fill_log` and the events."""
        out = []
        for o in reversed(list(self.orders.values())):
            if not o.filled_qty or (code is not None and o.code != code):
                continue
            out.append(fill_record(o, self._status_of(o), self._last_fill_at.get(o.order_no)))
        return out

    def _mark(self, code: str) -> tuple[int, int]:
        day = self.days.get(code)
        if day is None:
            return 0, 0
        return day.close or day.base, day.base

    def holdings(self) -> list[Holding]:
        out = []
        acct = self.ledger.account(self.account)
        for code, pos in sorted(acct.positions.items()):
            if pos.qty <= 0:
                continue
            mark = self._mark(code)[0]
            avg = (2 * pos.cost + pos.qty) // (2 * pos.qty)
            value = mark * pos.qty
            pl = value - pos.cost
            rate = (Decimal(pl) * 100 / pos.cost).quantize(Decimal("0.01")) if pos.cost else None
            out.append(
                Holding(
                    code,
                    self.instruments_by_code[code].name,
                    pos.qty,
                    acct.sellable_qty(code),
                    avg,
                    mark,
                    pos.cost,
                    value,
                    pl,
                    rate,
                )
            )
        return out

    def balance(self) -> Balance:
        acct = self.ledger.account(self.account)
        holdings = self.holdings()
        purchase = sum(h.purchase_amount for h in holdings)
        evaluation = sum(h.evaluation_amount for h in holdings)
        pl = evaluation - purchase
        rate = (Decimal(pl) * 100 / purchase).quantize(Decimal("0.01")) if purchase else None
        return Balance(
            acct.cash, acct.cash, acct.orderable_cash, acct.orderable_cash, purchase, evaluation,
            pl, rate, acct.cash + evaluation,
        )  # fmt: skip

    def realized_pnl(self) -> int:
        """Realised P&L of the run, net of commission and tax (the ledger's figure)."""
        return self.ledger.account(self.account).realized_total

    # ================================================================== market data
    def quote(self, code: str) -> Quote:
        inst = self.instruments_by_code.get(code)
        day = self.days.get(code)
        if inst is None or day is None:
            raise InvalidRequest(f"종목 정보가 없습니다. 종목코드={code}", "1902")
        price = day.close or day.base
        change = price - day.base
        rate = (Decimal(change) * 100 / day.base).quantize(Decimal("0.01"))
        return Quote(
            code, inst.name, price, _DIRECTION[change_sign(price, day.base, day.limits)], change,
            rate, day.open or None, day.high or None, day.low or None, day.base, day.limits[1],
            day.limits[0], day.volume, price * inst.listed_shares,
        )  # fmt: skip

    def order_book(self, code: str) -> OrderBook:
        """Bars carry no book: one level each side at the last price and the next tick."""
        q = self.quote(code)
        assert q.price is not None
        inst = self.instruments_by_code[code]
        ask = step_ticks(q.price, 1, inst.market, self.trading_day or dt.date.min)
        return OrderBook(
            code, (OrderBookLevel(ask, 0),), (OrderBookLevel(q.price, 0),), 0, 0, self.now()
        )

    def rankings(self, kind: RankingKind, **filters: str) -> list[RankingRow]:
        return []

    def minute_bars(
        self, code: str, minutes: int = 1, max_pages: int | None = 1
    ) -> list[MinuteBar]:
        """The bars fed so far (never a later one), newest first (none with `keep_bars` off)."""
        if minutes != 1:
            raise InvalidRequest("the backtest broker serves 1-minute bars")
        return list(reversed(self.bars.get(code, [])))

    def daily_bars(
        self, code: str, base_date: dt.date | None = None, max_pages: int | None = 1
    ) -> list[DailyBar]:
        return []

    def instruments(self, market: Market = Market.KOSPI) -> list[Instrument]:
        return [i for i in self._listed.values() if i.market == market]

    def conditions(self) -> list[Condition]:
        return []

    def condition_search(self, seq: str) -> list[ConditionHit]:
        raise InvalidRequest(f"no condition searches in a backtest ({seq})")

    def realtime(self, on_event: EventHandler | None = None) -> RealtimeFeed:
        raise InvalidRequest("a backtest has no realtime feed: read on_bar's events or drain()")

    def subscribe(self, handler: Callable[[RealtimeEvent], object]) -> None:
        """Call `handler` synchronously with every order/balance event."""
        self._handlers.append(handler)  # type: ignore[arg-type]

    def token_status(self) -> TokenInfo:
        return TokenInfo("backtest", None, True)
