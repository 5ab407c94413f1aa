"""The account ledger: paper accounts (cash, holdings, fees, tax, settlement — see accounts.py),
their orders and fills of the current trading day, order and fill numbering, and the account
reads (cash, holdings, summary, order lists).

It knows nothing of the tape or of matching: the order book reports fills through
`book_fill`, and holdings are valued with prices the caller supplies. A backtest composes it
with the matching `Book` and a historical clock (see core.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal

from krx import Market, sell_tax
from krx import commission as calc_commission
from krx.codes import strip_market_prefix

from .accounts import Account, Order
from .dto import (
    AccountSummary,
    CashInfo,
    Fill,
    Holding,
    Instrument,
    OrderAction,
    OrderStatus,
    OrderType,
    OrderView,
    Side,
    rejection,
)
from .tape import avg_price, pct

# code -> (last price, base price) for valuing holdings
MarkFn = Callable[[str], tuple[int, int]]


class Ledger:
    """Paper accounts and the orders and fills of the current trading day."""

    def __init__(self, start_cash: int, commission_rate: Decimal) -> None:
        self.start_cash = start_cash
        self.rate = commission_rate
        self.accounts: dict[str, Account] = {}
        self.order_index: dict[str, dict[str, Order]] = {}
        self.fill_log: dict[str, list[Fill]] = {}
        self.order_counters: dict[str, int] = {}
        self.fill_counter = 0
        self.order_seq = itertools.count(1)

    # -------------------------------------------------------------- accounts
    def open_account(self, account: str, cash: int | None) -> None:
        if account in self.accounts:
            return
        start = self.start_cash if cash is None else cash
        self.accounts[account] = Account(account, start, start, self.rate)
        self.order_index.setdefault(account, {})
        self.fill_log.setdefault(account, [])

    def numbers(self) -> list[str]:
        return sorted(self.accounts)

    def account(self, account: str) -> Account:
        acct = self.accounts.get(account)
        if acct is None:
            raise rejection("RC4001", f"계좌번호를 확인하세요. 계좌번호={account}")
        return acct

    def reset_numbers(self) -> None:
        """Order and fill numbers restart every trading day."""
        self.order_counters = {}
        self.fill_counter = 0

    def new_day(self) -> None:
        """Roll to the next trading day: today's figures, orders and fills start empty."""
        for acct in self.accounts.values():
            acct.new_day()
        self.order_index = {a: {} for a in self.order_index}
        self.fill_log = {a: [] for a in self.fill_log}

    # -------------------------------------------------------------- orders
    def next_order_no(self, account: str) -> str:
        n = self.order_counters.get(account, 0) + 1
        self.order_counters[account] = n
        return f"{n:07d}"

    def check_buy(self, acct: Account, qty: int, hold_price: int, extra: int | None = None) -> None:
        """Refuse a buy the orderable cash cannot hold (`extra`: the added hold of an amend)."""
        need = acct.buy_hold(qty, hold_price) if extra is None else extra
        if need > acct.orderable_cash:
            n = acct.max_buy_qty(hold_price)
            raise rejection("855056", f"매수증거금이 부족합니다. {n}주 매수가능")

    def new_order(
        self,
        account: str,
        side: Side,
        inst: Instrument,
        qty: int,
        price: int,
        order_type: OrderType,
        hold_price: int,
        when: dt.datetime,
    ) -> Order:
        """Check the account can carry a new order, then number it, index it and hold for it."""
        acct = self.account(account)
        if side is Side.BUY:
            self.check_buy(acct, qty, hold_price)
        elif acct.sellable_qty(inst.code) < qty:
            n = max(acct.sellable_qty(inst.code), 0)
            # Text modelled on the mock host's wording; the exact code was not found.
            raise rejection("800033", f"모의투자 매도가능수량이 부족합니다. {n}주 매도가능")
        order_no = self.next_order_no(account)
        o = Order(
            account=account, order_no=order_no, orig_order_no=None, base_order_no=order_no,
            code=inst.code, name=inst.name, market=inst.market, side=side,
            action=OrderAction.NEW, order_type=order_type, qty=qty, price=price, time=when,
            seq=next(self.order_seq), remaining=qty, hold_price=hold_price,
        )  # fmt: skip
        self.register(o)
        return o

    def register(self, o: Order) -> None:
        self.order_index.setdefault(o.account, {})[o.order_no] = o
        self.accounts[o.account].hold(o)

    def target(self, account: str, orig_order_no: str, code: str) -> Order:
        """The open order an amend or cancel refers to."""
        o = self.order_index.get(account, {}).get(orig_order_no.strip().zfill(7))
        if o is None or o.code != strip_market_prefix(code):
            raise rejection("RC4031", f"원주문번호를 확인하세요. 원주문번호={orig_order_no}")
        if not o.is_open or o.remaining <= 0:
            raise rejection("RC4032", "정정/취소할 수 있는 미체결 수량이 없습니다.")
        return o

    def book_fill(
        self, o: Order, qty: int, price: int, when: dt.datetime, trade_date: dt.date
    ) -> Fill:
        """Book one fill: the account's cash, position, fees and tax, the order's remainder and
        hold, the fill number and the day's fill log."""
        acct = self.accounts[o.account]
        res = acct.apply_fill(o, qty, price, trade_date)
        o.remaining -= qty
        self.fill_counter += 1
        fill_no = f"{self.fill_counter:07d}"
        o.last_fill_no, o.last_fill_price, o.last_fill_qty = fill_no, price, qty
        o.status = OrderStatus.FILLED
        if o.remaining == 0:
            o.is_open = False
        acct.hold(o)
        # Positional, in `Fill`'s field order (a backtest books thousands a second; by keyword costs
        # ≈1.7 µs more): account, fill_no, order_no, orig_order_no, code, name, side, order_type,
        # order_qty, order_price, qty, price, time, commission, tax, remaining_qty (test_ledger_fill checks
        # every field by name).
        fill = Fill(
            o.account, fill_no, o.order_no, o.orig_order_no, o.code, o.name, o.side, o.order_type,
            o.qty, o.price, qty, price, when, res.commission, res.tax, o.remaining,
        )  # fmt: skip
        self.fill_log.setdefault(o.account, []).append(fill)
        return fill

    def cancel_remainder(self, o: Order, qty: int) -> None:
        """Take `qty` off an order's open remainder and release its hold."""
        o.remaining -= qty
        o.cancelled_qty += qty
        if o.remaining == 0:
            o.is_open = False
            o.status = OrderStatus.CANCELLED
        self.accounts[o.account].hold(o)

    # -------------------------------------------------------------- reads
    @staticmethod
    def view(o: Order) -> OrderView:
        return OrderView(
            account=o.account, order_no=o.order_no, orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no, code=o.code, name=o.name, side=o.side, action=o.action,
            order_type=o.order_type, qty=o.qty, price=o.price, filled_qty=o.filled_qty,
            filled_value=o.filled_value, remaining_qty=o.remaining, status=o.status,
            is_open=o.is_open, time=o.time, last_fill_no=o.last_fill_no,
            last_fill_price=o.last_fill_price, last_fill_qty=o.last_fill_qty,
            commission=o.commission, tax=o.tax, cancelled_qty=o.cancelled_qty,
        )  # fmt: skip

    def orders_of(self, account: str, code: str | None) -> list[Order]:
        self.account(account)
        out = [
            o for o in self.order_index.get(account, {}).values() if code is None or o.code == code
        ]
        return sorted(out, key=lambda o: o.order_no, reverse=True)

    def open_orders(self, account: str, code: str | None) -> list[OrderView]:
        return [self.view(o) for o in self.orders_of(account, code) if o.is_open]

    def orders(self, account: str, code: str | None) -> list[OrderView]:
        return [self.view(o) for o in self.orders_of(account, code)]

    def order(self, account: str, order_no: str) -> OrderView:
        o = self.order_index.get(account, {}).get(order_no.strip().zfill(7))
        if o is None:
            raise rejection("RC4031", f"주문번호를 확인하세요. 주문번호={order_no}")
        return self.view(o)

    def fills(self, account: str, code: str | None) -> list[Fill]:
        self.account(account)
        out = [f for f in self.fill_log.get(account, []) if code is None or f.code == code]
        return list(reversed(out))

    def cash(self, account: str) -> CashInfo:
        a = self.account(account)
        return CashInfo(
            deposit=a.cash, held_for_orders=a.held_cash, orderable=a.orderable_cash,
            withdrawable=a.orderable_cash, d1_deposit=a.cash, d2_deposit=a.cash,
            commission_today=a.commission_today, tax_today=a.tax_today,
            starting_cash=a.starting_cash,
        )  # fmt: skip

    def holdings(
        self, account: str, instruments: dict[str, Instrument], mark: MarkFn, day: dt.date
    ) -> list[Holding]:
        """Positions with qty > 0 valued at `mark(code)`; the estimated sell fees use `day`."""
        a = self.account(account)
        out = []
        for code, pos in sorted(a.positions.items()):
            if pos.qty <= 0:
                continue
            price, base = mark(code)
            inst = instruments[code]
            eval_amount = pos.qty * price
            out.append(
                Holding(
                    code=code, name=inst.name, qty=pos.qty, orderable_qty=pos.qty - pos.sell_held,
                    avg_price=avg_price(pos.cost, pos.qty), cost=pos.cost,
                    buy_commission=pos.buy_commission, price=price,
                    base_price=base, eval_amount=eval_amount,
                    eval_pnl=eval_amount - pos.cost, pnl_rate_pct=pct(eval_amount - pos.cost, pos.cost),
                    est_sell_commission=calc_commission(eval_amount, self.rate),
                    est_sell_tax=sell_tax(eval_amount, day, Market(inst.market)),
                    today_buy_qty=pos.today_buy_qty, today_sell_qty=pos.today_sell_qty,
                    today_realized_pnl=pos.today_realized, realized_pnl=pos.realized,
                    last_side=Side(pos.last_side) if pos.last_side else None,
                )
            )  # fmt: skip
        return out

    def summary(self, account: str, holdings: list[Holding]) -> AccountSummary:
        a = self.account(account)
        cost = sum(h.cost for h in holdings)
        ev = sum(h.eval_amount for h in holdings)
        return AccountSummary(
            account=account, deposit=a.cash, total_cost=cost, total_eval=ev,
            total_eval_pnl=ev - cost, total_pnl_rate_pct=pct(ev - cost, cost),
            estimated_assets=a.cash + ev, realized_pnl=a.realized_total,
            today_realized_pnl=sum(p.today_realized for p in a.positions.values()),
            starting_cash=a.starting_cash, commission_total=a.commission_total,
            tax_total=a.tax_total,
        )  # fmt: skip
