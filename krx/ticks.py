"""Tick sizes (호가가격단위) by trade date and market, and rounding onto the tick grid.

KRX unified the KOSPI/KOSDAQ/KONEX tables on 2023-01-25 (KRX 유가증권/코스닥시장 업무규정 시행세칙
개정, 2023-01-25 시행; PROTOCOL.md §9.2). Before that date KOSPI and KOSDAQ used different tables
(the ones in force since 2010; older tables are not modelled). Every function takes the trade
date: the grid of a price depends on it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from .markets import Market

UNIFIED_TICK_TABLE_SINCE = dt.date(2023, 1, 25)

# (upper bound exclusive, tick). The last row's bound is None = no upper bound.
_Table = tuple[tuple[int | None, int], ...]

UNIFIED_TABLE: _Table = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
    (None, 1_000),
)
KOSPI_TABLE_PRE_2023: _Table = (
    (1_000, 1),
    (5_000, 5),
    (10_000, 10),
    (50_000, 50),
    (100_000, 100),
    (500_000, 500),
    (None, 1_000),
)
KOSDAQ_TABLE_PRE_2023: _Table = (
    (1_000, 1),
    (5_000, 5),
    (10_000, 10),
    (50_000, 50),
    (None, 100),
)

Direction = Literal["down", "up", "nearest"]


def tick_table(market: Market | str, on_date: dt.date) -> _Table:
    """The tick table in force for `market` on `on_date`."""
    if on_date >= UNIFIED_TICK_TABLE_SINCE:
        return UNIFIED_TABLE
    # KONEX followed the KOSDAQ table before unification.
    return KOSPI_TABLE_PRE_2023 if Market(market) is Market.KOSPI else KOSDAQ_TABLE_PRE_2023


def tick_size(price: int, market: Market | str, on_date: dt.date) -> int:
    """Tick (호가단위) for a price level; prices below 1 use the smallest tick."""
    for bound, tick in tick_table(market, on_date):
        if bound is None or price < bound:
            return tick
    raise AssertionError("unreachable: the last row has no bound")


def tick_round(
    price: int, market: Market | str, on_date: dt.date, direction: Direction = "down"
) -> int:
    """Round a price onto the tick grid. Band lower bounds are multiples of their tick, so
    rounding with the tick of the price's own band always lands on a valid price."""
    price = max(int(price), 1)
    tick = tick_size(price, market, on_date)
    down = price - price % tick
    if direction == "down" or down == price:
        return max(down, tick if down == 0 else down)
    up = down + tick
    if direction == "up":
        return up
    return up if (up - price) < (price - down) else down


def is_on_tick(price: int, market: Market | str, on_date: dt.date) -> bool:
    """True when `price` is a valid order price on the grid (positive and a multiple of its tick)."""
    return price > 0 and price % tick_size(price, market, on_date) == 0


def step_ticks(price: int, steps: int, market: Market | str, on_date: dt.date) -> int:
    """Move an on-grid price `steps` ticks up (positive) or down (negative); never below one tick."""
    for _ in range(abs(steps)):
        if steps > 0:
            price += tick_size(price, market, on_date)
        elif price > 1:
            # Going down crosses into the lower band at its bound, so use the tick just below.
            price -= tick_size(price - 1, market, on_date)
    return price
