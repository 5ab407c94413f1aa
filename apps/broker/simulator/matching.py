"""The order book of the paper orders and the matching rules applied to it.

`Book` holds the resting (working) orders per code in price-time priority and matches them
against prints; it knows nothing of accounts (the caller books each fill in the ledger) nor of
the tape (the caller passes prints in), so a backtest drives it with historical prints.

- Eligibility: a resting buy fills on a print at or below its limit, a sell at or above; market
  orders always. Price-time priority: market orders first, then the better limit, then arrival.
  Because priority is also eligibility order, a walk over a sorted side stops at the first order
  the print does not reach.
- Fill price on a print: the single price in an auction; the limit for resting limit orders
  (the tape traded through them); the print plus slippage ticks for resting market remainders.
- The book our marketable orders take from is synthesised: 10 levels on the tick grid from the
  touch, inside the price limits, with quantities drawn around a depth derived from the stock's
  average minute volume. Walking it gives market orders their slippage.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable

from krx import Market, step_ticks

from .accounts import Order
from .dto import OrderType, Side

# (order, qty) -> books one fill of the order; the price is the caller's (see `fill_price`).
FillFn = Callable[[Order, int], None]

MARKET_LIKE = frozenset({OrderType.MARKET, OrderType.MARKET_IOC, OrderType.MARKET_FOK})
IOC_LIKE = frozenset({OrderType.LIMIT_IOC, OrderType.MARKET_IOC})
FOK_LIKE = frozenset({OrderType.LIMIT_FOK, OrderType.MARKET_FOK})
# Not allowed while a stock trades by single price (call auctions, VI).
CONTINUOUS_ONLY = IOC_LIKE | FOK_LIKE | {OrderType.BEST_LIMIT}


def eligible(o: Order, price: int) -> bool:
    """Does a print at `price` reach the order?"""
    if o.order_type in MARKET_LIKE:
        return True
    return price <= o.price if o.side is Side.BUY else price >= o.price


def priority(o: Order) -> tuple[int, int, int]:
    """Sort key: market first, then the better limit, then arrival."""
    market = 0 if o.order_type in MARKET_LIKE else 1
    return (market, -o.price if o.side is Side.BUY else o.price, o.seq)


def slipped(
    price: int, side: Side, ticks: int, limits: tuple[int, int], market: Market, day: dt.date
) -> int:
    """`price` moved `ticks` against the taker, kept inside the limits."""
    moved = step_ticks(price, ticks if side is Side.BUY else -ticks, market, day)
    return min(max(moved, limits[0]), limits[1])


def synth_levels(
    touch: int,
    side: Side,
    limits: tuple[int, int],
    depth: int,
    rng: random.Random,
    market: Market,
    day: dt.date,
) -> list[tuple[int, int]]:
    """Up to 10 (price, qty) levels a `side` taker meets: asks upward from the best ask for a
    buyer, bids downward from the best bid for a seller."""
    step = 1 if side is Side.BUY else -1
    out: list[tuple[int, int]] = []
    price = touch
    for i in range(10):
        if i:
            price = step_ticks(price, step, market, day)
        if not limits[0] <= price <= limits[1]:
            break
        out.append((price, max(1, int(depth * (1 + 0.35 * i) * rng.uniform(0.5, 1.5)))))
    return out


def walk(
    levels: Iterable[tuple[int, int]],
    o: Order,
    want: int,
    consumed: dict[int, int],
) -> list[tuple[int, int]]:
    """(price, qty) slices an order takes from the levels, best first, up to `want` shares and
    never beyond a level's quantity minus what earlier takers consumed; limit orders stop at
    their limit."""
    out: list[tuple[int, int]] = []
    total = 0
    for price, qty in levels:
        if total >= want:
            break
        if o.order_type not in MARKET_LIKE and (
            price > o.price if o.side is Side.BUY else price < o.price
        ):
            break
        take = min(qty - consumed.get(price, 0), want - total)
        if take > 0:
            out.append((price, take))
            total += take
    return out


def fill_price(
    o: Order,
    print_price: int,
    auction: bool,
    slippage_ticks: int,
    limits: tuple[int, int],
    market: Market,
    day: dt.date,
) -> int:
    """The price a resting order fills at on a print (see the module docstring)."""
    if auction:
        return print_price
    if o.order_type in MARKET_LIKE:
        return slipped(print_price, o.side, slippage_ticks, limits, market, day)
    return o.price


class Book:
    """Resting paper orders per code, sorted in price-time priority on demand."""

    def __init__(self) -> None:
        self.working: dict[str, list[Order]] = {}
        # per code: (buys, sells) of `working` in price-time priority; dropped on any change
        self._sorted: dict[str, tuple[list[Order], list[Order]]] = {}

    def has_orders(self, code: str) -> bool:
        return bool(self.working.get(code))

    def add(self, o: Order) -> None:
        self.working.setdefault(o.code, []).append(o)
        self._sorted.pop(o.code, None)

    def prune(self, code: str) -> None:
        """Drop orders of `code` that are no longer open (after an amend or a cancel)."""
        self.working[code] = [w for w in self.working.get(code, []) if w.is_open]
        self._sorted.pop(code, None)

    def clear(self) -> None:
        self.working = {}
        self._sorted.clear()

    def open_orders(self) -> list[Order]:
        """Every open resting order, by code in arrival order of the book."""
        return [o for orders in self.working.values() for o in orders if o.is_open]

    def market_on_close(self) -> None:
        """Conditional limit orders (조건부지정가) become market orders for the closing auction."""
        for orders in self.working.values():
            for o in orders:
                if o.order_type is OrderType.CONDITIONAL_LIMIT:
                    o.order_type = OrderType.MARKET
                    o.price = 0
        self._sorted.clear()

    def _sides(self, code: str) -> tuple[list[Order], list[Order]]:
        book = self._sorted.get(code)
        if book is None:
            live = [o for o in self.working[code] if o.is_open]
            self.working[code] = live
            book = (
                sorted((o for o in live if o.side is Side.BUY), key=priority),
                sorted((o for o in live if o.side is Side.SELL), key=priority),
            )
            self._sorted[code] = book
        return book

    def match_print(self, code: str, price: int, liquidity: int, fill: FillFn) -> None:
        """Share `liquidity` shares of a print at `price` among the resting orders of `code` in
        price-time priority; `fill(order, qty)` books each fill."""
        if liquidity <= 0 or not self.working.get(code):
            return
        filled = False
        for side_orders in self._sides(code):
            # Priority order is also eligibility order (market first, then by limit), so the
            # walk stops at the first order the print does not reach.
            for o in side_orders:
                if liquidity <= 0 or not eligible(o, price):
                    break
                if not o.is_open:
                    continue
                qty = min(o.remaining, liquidity)
                liquidity -= qty
                filled = True
                fill(o, qty)
        if filled:
            self.working[code] = [o for o in self.working[code] if o.is_open]
            self._sorted.pop(code, None)
