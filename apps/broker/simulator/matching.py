"""Matching rules of the paper orders, as pure functions the engine applies.

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
from collections.abc import Iterable

from krx import Market, step_ticks

from .accounts import Order
from .dto import OrderType, Side

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
