"""The matching + ledger core, composed in-process: no simulated tape, no server, no sockets.

A backtest opens accounts, places orders, and feeds the prints (or bars) of its history; the
order book fills resting orders by the simulator's rules (matching.py) and the ledger books
cash, holdings, commission and the dated sell tax exactly as the simulator does (ledger.py,
accounts.py, krx.fees). The caller's clock — a ManualClock moved along the history — stamps
every fill and gives the trade date the fees depend on.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Protocol

from krx import DEFAULT_COMMISSION_RATE, KST

from .accounts import Order
from .dto import Fill, Instrument, OrderStatus, OrderType, Side, rejection
from .ledger import Ledger
from .matching import MARKET_LIKE, Book, fill_price

NO_LIMITS = (1, 10**12)


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class PaperCore:
    """Resting orders and paper accounts driven by caller-supplied prints."""

    def __init__(
        self,
        clock: Clock,
        instruments: dict[str, Instrument],
        *,
        start_cash: int = 100_000_000,
        commission_rate: Decimal = DEFAULT_COMMISSION_RATE,
        participation: Decimal = Decimal(1),
        slippage_ticks: int = 1,
    ) -> None:
        self.clock = clock
        self.instruments = instruments
        self.participation = participation
        self.slippage_ticks = slippage_ticks
        self.ledger = Ledger(start_cash, commission_rate)
        self.book = Book()

    @property
    def trade_date(self) -> dt.date:
        return self.clock.now().astimezone(KST).date()

    def open_account(self, account: str, cash: int | None = None) -> None:
        self.ledger.open_account(account, cash)

    def place(
        self,
        account: str,
        side: Side,
        code: str,
        qty: int,
        price: int = 0,
        order_type: OrderType = OrderType.LIMIT,
        *,
        hold_price: int | None = None,
    ) -> Order:
        """Book a new order to rest in the book (it fills on later prints). A market order needs
        `hold_price` (what the simulator holds: the upper limit) to reserve cash."""
        inst = self.instruments.get(code)
        if inst is None:
            raise rejection("1902", f"종목 정보가 없습니다. 종목코드={code}")
        if qty <= 0:
            raise rejection("RC4025", "주문수량을 확인하세요.")
        if order_type in MARKET_LIKE:
            price = 0
            if hold_price is None:
                raise ValueError("a market order needs hold_price")
        hold = hold_price or price
        o = self.ledger.new_order(
            account, side, inst, qty, price, order_type, hold, self.clock.now()
        )
        self.book.add(o)
        return o

    def cancel(self, o: Order) -> None:
        """Cancel an order's open remainder (no new order record: the backtest's own log keeps
        the request)."""
        if o.is_open:
            self.ledger.cancel_remainder(o, o.remaining)
            self.book.prune(o.code)

    def on_print(
        self,
        code: str,
        price: int,
        volume: int,
        *,
        auction: bool = False,
        limits: tuple[int, int] = NO_LIMITS,
    ) -> list[Fill]:
        """A trade of `volume` at `price` on the tape: resting orders it reaches fill, sharing
        volume × participation in price-time priority."""
        inst = self.instruments[code]
        when, day = self.clock.now(), self.trade_date
        fills: list[Fill] = []

        def fill(o: Order, qty: int) -> None:
            at = fill_price(o, price, auction, self.slippage_ticks, limits, inst.market, day)
            fills.append(self.ledger.book_fill(o, qty, at, when, day))

        liquidity = int(Decimal(volume) * self.participation)
        self.book.match_print(code, price, liquidity, fill)
        return fills

    def on_bar(
        self, code: str, open_: int, high: int, low: int, close: int, volume: int
    ) -> list[Fill]:
        """A bar as four prints along the usual path — open, the extreme nearer the open, the
        other extreme, close — each a quarter of the volume (the last takes the rest)."""
        near, far = (low, high) if close >= open_ else (high, low)
        quarter = volume // 4
        prints = [(open_, quarter), (near, quarter), (far, quarter), (close, volume - 3 * quarter)]
        fills: list[Fill] = []
        for price, vol in prints:
            fills.extend(self.on_print(code, price, vol))
        return fills

    def end_of_day(self) -> list[Order]:
        """The close: open remainders expire; the ledger rolls to the next day. Returns the
        expired orders."""
        expired = self.book.open_orders()
        for o in expired:
            self.ledger.cancel_remainder(o, o.remaining)
            o.status = OrderStatus.CANCELLED
        self.book.clear()
        self.ledger.new_day()
        self.ledger.reset_numbers()
        return expired
