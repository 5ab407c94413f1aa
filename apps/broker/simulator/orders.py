"""The order desk of the simulator: order entry (new, amend, cancel) with the exchange's checks,
immediate fills against the synthesised book, fills of resting orders on the tape, expiry at
the close, and the 00/04 events (OrderEvent, BalanceEvent) each of those emits.

It joins the parts: prices and the book's levels come from the tape, resting orders live in
`matching.Book`, money and positions in `ledger.Ledger`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from krx import SessionPhase, is_on_tick, tick_size

from .accounts import Account, Order
from .dto import (
    BalanceEvent,
    Event,
    OrderAck,
    OrderAction,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    rejection,
)
from .matching import CONTINUOUS_ONLY, FOK_LIKE, IOC_LIKE, MARKET_LIKE, fill_price, walk
from .tape import StockDay, avg_price, pct

if TYPE_CHECKING:
    from .engine import Engine


class OrderDesk:
    def __init__(self, engine: Engine) -> None:
        self.eng = engine
        self.ledger = engine.ledger
        self.book = engine.book

    # ================================================================== checks
    def _check_open(self) -> None:
        eng = self.eng
        if not eng.days.is_trading_day(eng.now.date()):
            raise rejection("571489", "장이 열리지 않는 날입니다.")
        if eng.phase is SessionPhase.CLOSED:
            # The mock host answers RC4058 after hours; the same text is used before 08:30
            # (the pre-open text was not found in any source).
            raise rejection("RC4058", "모의투자 장종료")

    def _check_price(self, st: StockDay, price: int) -> None:
        mkt, day = st.inst.market, self.eng.day
        if price <= 0 or not is_on_tick(price, mkt, day):
            # Exact Kiwoom text for off-tick prices was not found (PROTOCOL.md §11).
            raise rejection(
                "RC4021",
                f"주문가격이 호가단위에 맞지 않습니다. 호가단위={tick_size(max(price, 1), mkt, day)}원",
            )
        lower, upper = st.limits
        if price > upper:
            raise rejection("RC4016", f"주문가격이 상한가({upper}원)를 초과합니다.")
        if price < lower:
            raise rejection("RC4017", f"주문가격이 하한가({lower}원) 미만입니다.")

    def _auction_now(self, st: StockDay) -> bool:
        return self.eng.phase is not SessionPhase.CONTINUOUS or st.vi_until is not None

    # ================================================================== entry
    def place_order(
        self, account: str, side: Side, code: str, qty: int, price: int, order_type: OrderType
    ) -> OrderAck:
        self.ledger.account(account)
        st = self.eng.stock(code)
        if qty <= 0:
            raise rejection("RC4025", "주문수량을 확인하세요.")
        self._check_open()
        phase = self.eng.phase
        auction = phase is not SessionPhase.CONTINUOUS or st.vi_until is not None
        if auction and order_type in CONTINUOUS_ONLY:
            raise rejection("RC4030", "단일가매매 시간에는 해당 매매구분으로 주문할 수 없습니다.")
        if order_type is OrderType.BEST_LIMIT:
            price = st.best_ask if side is Side.BUY else st.best_bid
        elif order_type is OrderType.PRIORITY_LIMIT:
            price = st.best_bid if side is Side.BUY else st.best_ask
        if order_type in MARKET_LIKE:
            price = 0
        else:
            self._check_price(st, price)
        if order_type is OrderType.CONDITIONAL_LIMIT and phase is SessionPhase.CLOSING_AUCTION:
            order_type, price = OrderType.MARKET, 0
        hold_price = price or st.limits[1]
        o = self.ledger.new_order(
            account, side, st.inst, qty, price, order_type, hold_price, self.eng.now
        )
        self._accept(o, st, auction)
        return self._ack(o, qty)

    def _accept(self, o: Order, st: StockDay, auction: bool) -> None:
        now, outbox = self.eng.now, self.eng.outbox
        outbox.append(self._order_event(o, now, OrderStatus.ACCEPTED))
        if not auction:
            if o.order_type in FOK_LIKE and self._immediate(o, st, [], dry_run=True) < o.remaining:
                self._cancel_remainder(o, o.remaining, now, outbox)
                return
            self._immediate(o, st, outbox)
            if o.is_open and o.order_type in IOC_LIKE | FOK_LIKE:
                self._cancel_remainder(o, o.remaining, now, outbox)
        if o.is_open:
            self.book.add(o)

    def _ack(self, o: Order, qty: int) -> OrderAck:
        return OrderAck(
            account=o.account, order_no=o.order_no, orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no, code=o.code, side=o.side, action=o.action, qty=qty,
            price=o.price, order_type=o.order_type, time=self.eng.now,
        )  # fmt: skip

    def amend_order(
        self, account: str, orig_order_no: str, code: str, qty: int, price: int
    ) -> OrderAck:
        acct = self.ledger.account(account)
        self._check_open()
        o = self.ledger.target(account, orig_order_no, code)
        st = self.eng.stocks[o.code]
        if qty < 0 or qty > o.remaining:
            raise rejection("RC4033", f"정정수량이 미체결수량({o.remaining}주)을 초과합니다.")
        qty = qty or o.remaining
        self._check_price(st, price)
        if o.side is Side.BUY:
            extra = acct.buy_hold(qty, price) - acct.buy_hold(qty, o.hold_price)
            self.ledger.check_buy(acct, qty, price, extra=extra)
        # Take the amended part off the original, then book it as a new order.
        o.remaining -= qty
        if o.remaining == 0:
            o.is_open = False
            o.status = OrderStatus.CONFIRMED
        acct.hold(o)
        order_type = OrderType.LIMIT if o.order_type in MARKET_LIKE else o.order_type
        now = self.eng.now
        new = Order(
            account=account, order_no=self.ledger.next_order_no(account), orig_order_no=o.order_no,
            base_order_no=o.base_order_no, code=o.code, name=o.name, market=o.market, side=o.side,
            action=OrderAction.AMEND, order_type=order_type, qty=qty, price=price, time=now,
            seq=next(self.ledger.order_seq), remaining=qty, hold_price=price,
        )  # fmt: skip
        self.book.prune(o.code)
        auction = self._auction_now(st)
        self.ledger.register(new)
        outbox = self.eng.outbox
        outbox.append(self._order_event(new, now, OrderStatus.ACCEPTED))
        outbox.append(self._order_event(new, now, OrderStatus.CONFIRMED))
        if not auction:
            self._immediate(new, st, outbox)
        if new.is_open:
            self.book.add(new)
        return self._ack(new, qty)

    def cancel_order(self, account: str, orig_order_no: str, code: str, qty: int) -> OrderAck:
        acct = self.ledger.account(account)
        self._check_open()
        o = self.ledger.target(account, orig_order_no, code)
        if qty < 0 or qty > o.remaining:
            raise rejection("RC4034", f"취소수량이 미체결수량({o.remaining}주)을 초과합니다.")
        qty = qty or o.remaining
        o.remaining -= qty
        o.cancelled_qty += qty
        if o.remaining == 0:
            o.is_open = False
            o.status = OrderStatus.CANCELLED
        acct.hold(o)
        self.book.prune(o.code)
        now = self.eng.now
        rec = Order(
            account=account, order_no=self.ledger.next_order_no(account), orig_order_no=o.order_no,
            base_order_no=o.base_order_no, code=o.code, name=o.name, market=o.market, side=o.side,
            action=OrderAction.CANCEL, order_type=o.order_type, qty=qty, price=o.price,
            time=now, seq=next(self.ledger.order_seq), remaining=0, is_open=False,
            status=OrderStatus.CONFIRMED, cancelled_qty=qty,
        )  # fmt: skip
        self.ledger.order_index[account][rec.order_no] = rec
        self.eng.outbox.append(self._order_event(rec, now, OrderStatus.ACCEPTED))
        self.eng.outbox.append(self._order_event(rec, now, OrderStatus.CONFIRMED))
        return self._ack(rec, qty)

    def orderable_qty(self, account: str, side: Side, code: str, price: int) -> int:
        a = self.ledger.account(account)
        st = self.eng.stock(code)
        if side is Side.SELL:
            return max(a.sellable_qty(st.inst.code), 0)
        return a.max_buy_qty(price or st.limits[1])

    # ================================================================== fills
    def _immediate(self, o: Order, st: StockDay, events: list[Event], dry_run: bool = False) -> int:
        """Fill a marketable order against the synthesised book; returns the quantity filled
        (or, with dry_run, the quantity that could be filled)."""
        levels = self.eng.reads.book_levels(st, o.side)
        slices = walk(levels, o, o.remaining, st.consumed)
        if not dry_run:
            for price, qty in slices:
                st.consumed[price] = st.consumed.get(price, 0) + qty
                self._fill(o, qty, price, self.eng.now, events)
        return sum(q for _, q in slices)

    def match_print(
        self,
        st: StockDay,
        when: dt.datetime,
        price: int,
        vol: int,
        auction: bool,
        events: list[Event],
    ) -> None:
        """Fill resting orders of the stock on a print (see matching.Book.match_print)."""
        slip = int(self.eng.config.market_slippage_ticks)
        market, day = st.inst.market, self.eng.day

        def fill(o: Order, qty: int) -> None:
            at = fill_price(o, price, auction, slip, st.limits, market, day)
            self._fill(o, qty, at, when, events)

        liquidity = int(Decimal(vol) * self.eng.participation)
        self.book.match_print(st.inst.code, price, liquidity, fill)

    def _fill(self, o: Order, qty: int, price: int, when: dt.datetime, events: list[Event]) -> None:
        fill = self.ledger.book_fill(o, qty, price, when, self.eng.day)
        st = self.eng.stocks[o.code]
        events.append(self._order_event(o, when, OrderStatus.FILLED, fill.fill_no, price, qty))
        events.append(self._balance_event(self.ledger.accounts[o.account], st, o.side, when))

    def expire_all(self, when: dt.datetime, events: list[Event]) -> None:
        """The close: every open remainder is cancelled (취소 event)."""
        for o in self.book.open_orders():
            self._cancel_remainder(o, o.remaining, when, events)
        self.book.clear()

    def _cancel_remainder(self, o: Order, qty: int, when: dt.datetime, events: list[Event]) -> None:
        self.ledger.cancel_remainder(o, qty)
        events.append(self._order_event(o, when, OrderStatus.CANCELLED))

    # ================================================================== events
    def _order_event(
        self,
        o: Order,
        when: dt.datetime,
        status: OrderStatus,
        fill_no: str = "",
        fill_price: int = 0,
        fill_qty: int = 0,
        reason: str = "",
    ) -> OrderEvent:
        st = self.eng.stocks[o.code]
        return OrderEvent(
            account=o.account,
            time=when,
            status=status,
            order_no=o.order_no,
            orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no,
            code=o.code,
            name=o.name,
            side=o.side,
            action=o.action,
            order_type=o.order_type,
            order_qty=o.qty,
            order_price=o.price,
            remaining_qty=o.remaining,
            filled_qty=o.filled_qty,
            filled_value=o.filled_value,
            fill_no=fill_no,
            fill_price=fill_price,
            fill_qty=fill_qty,
            commission=o.commission,
            tax=o.tax,
            reject_reason=reason,
            price=st.last,
            best_ask=st.best_ask,
            best_bid=st.best_bid,
        )

    @staticmethod
    def _balance_event(acct: Account, st: StockDay, side: Side, when: dt.datetime) -> BalanceEvent:
        pos = acct.position(st.inst.code)
        return BalanceEvent(
            account=acct.number,
            time=when,
            code=st.inst.code,
            name=st.inst.name,
            qty=pos.qty,
            avg_price=avg_price(pos.cost, pos.qty),
            cost=pos.cost,
            orderable_qty=pos.qty - pos.sell_held,
            today_net_buy_qty=pos.today_buy_qty - pos.today_sell_qty,
            side=side,
            today_realized_pnl=pos.today_realized,
            realized_pnl_rate_pct=pct(pos.today_realized, pos.today_sell_cost),
            price=st.last,
            best_ask=st.best_ask,
            best_bid=st.best_bid,
            base_price=st.base,
            deposit=acct.cash,
            orderable_cash=acct.orderable_cash,
        )
