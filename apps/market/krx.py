"""KRX trading rules as plain functions: tick sizes, price limits, session phases, VI thresholds.

Framework-free (no Django) so the exchange simulator, the market-data layer and backtests share
one copy. Trading days and holidays are NOT here (see `apps.market.calendar`); the session-phase
helper below only knows the regular KRX time table of an ordinary trading day.

Sources (public knowledge, cross-checked with ../shared/kiwoom/PROTOCOL.md §9):
- Tick sizes (호가가격단위): KRX unified the KOSPI/KOSDAQ/KONEX tables on 2023-01-25
  (KRX 유가증권/코스닥시장 업무규정 시행세칙 개정, 2023-01-25 시행; PROTOCOL.md §9.2). Before that date
  KOSPI and KOSDAQ used different tables (the ones in force since 2010; older tables are not modelled).
- Price limits: ±30 % of the base price since 2015-06-15, rounded to a valid tick toward the base
  (PROTOCOL.md §9.3; matches the ka10001 example: base 74,900 -> 97,300 / 52,500).
- VI: static 10 % from the static reference; dynamic 3 % (KOSPI200 constituents) / 6 % (others) in
  the continuous session, 2 % / 4 % in the closing auction; a 2-minute single-price period
  (PROTOCOL.md §9.5).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")

UNIFIED_TICK_TABLE_SINCE = dt.date(2023, 1, 25)
LIMIT_30PCT_SINCE = dt.date(2015, 6, 15)


class Market(StrEnum):
    KOSPI = "KOSPI"
    KOSDAQ = "KOSDAQ"
    KONEX = "KONEX"


class SessionPhase(StrEnum):
    """Phases of an ordinary KRX trading day (regular market only; values match calendar.Phase)."""

    CLOSED = "closed"
    OPENING_AUCTION = "opening_auction"  # 장 시작 동시호가 08:30-09:00, single price at 09:00
    CONTINUOUS = "continuous"  # 정규장 접속매매 09:00-15:20
    CLOSING_AUCTION = "closing_auction"  # 장 마감 동시호가 15:20-15:30, single price at 15:30


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


def _today_kst() -> dt.date:
    return dt.datetime.now(KST).date()


def tick_table(market: Market | str, on_date: dt.date | None = None) -> _Table:
    """The tick table in force for `market` on `on_date` (default: today in KST)."""
    day = on_date or _today_kst()
    if day >= UNIFIED_TICK_TABLE_SINCE:
        return UNIFIED_TABLE
    # KONEX followed the KOSDAQ table before unification.
    return KOSPI_TABLE_PRE_2023 if Market(market) is Market.KOSPI else KOSDAQ_TABLE_PRE_2023


def tick_size(
    price: int, market: Market | str = Market.KOSPI, on_date: dt.date | None = None
) -> int:
    """Tick (호가단위) for a price level; prices below 1 use the smallest tick."""
    for bound, tick in tick_table(market, on_date):
        if bound is None or price < bound:
            return tick
    raise AssertionError("unreachable: the last row has no bound")


def tick_round(
    price: int,
    market: Market | str = Market.KOSPI,
    on_date: dt.date | None = None,
    direction: Direction = "down",
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


def is_on_tick(
    price: int, market: Market | str = Market.KOSPI, on_date: dt.date | None = None
) -> bool:
    """True when `price` is a valid order price on the grid (positive and a multiple of its tick)."""
    return price > 0 and price % tick_size(price, market, on_date) == 0


def step_ticks(
    price: int, steps: int, market: Market | str = Market.KOSPI, on_date: dt.date | None = None
) -> int:
    """Move an on-grid price `steps` ticks up (positive) or down (negative); never below one tick."""
    for _ in range(abs(steps)):
        if steps > 0:
            price += tick_size(price, market, on_date)
        elif price > 1:
            # Going down crosses into the lower band at its bound, so use the tick just below.
            price -= tick_size(price - 1, market, on_date)
    return price


def price_limits(
    base_price: int, market: Market | str = Market.KOSPI, on_date: dt.date | None = None
) -> tuple[int, int]:
    """(lower, upper) daily price limits: base ±30 % rounded to a valid tick toward the base.

    Integer arithmetic: the raw upper bound is floored and the raw lower bound ceiled first (both
    toward the base), then moved onto the tick grid in the same direction.
    """
    upper_raw = base_price * 13 // 10
    lower_raw = -(-base_price * 7 // 10)
    upper = tick_round(upper_raw, market, on_date, "down")
    lower = tick_round(lower_raw, market, on_date, "up")
    return max(lower, 1), max(upper, 1)


def clamp_to_limits(price: int, limits: tuple[int, int]) -> int:
    """Clamp a price into the (lower, upper) limits."""
    lower, upper = limits
    return min(max(price, lower), upper)


_OPEN_AUCTION_START = dt.time(8, 30)
_CONTINUOUS_START = dt.time(9, 0)
_CLOSING_AUCTION_START = dt.time(15, 20)
_CLOSE = dt.time(15, 30)


def phase_at_time(t: dt.time) -> SessionPhase:
    """Phase of an ordinary trading day at KST wall-clock time `t`."""
    if _OPEN_AUCTION_START <= t < _CONTINUOUS_START:
        return SessionPhase.OPENING_AUCTION
    if _CONTINUOUS_START <= t < _CLOSING_AUCTION_START:
        return SessionPhase.CONTINUOUS
    if _CLOSING_AUCTION_START <= t < _CLOSE:
        return SessionPhase.CLOSING_AUCTION
    return SessionPhase.CLOSED


def session_phase(moment: dt.datetime) -> SessionPhase:
    """Phase at an aware datetime, assuming the day is a regular trading day (weekends are closed;
    holidays and CSAT late opens are the calendar module's business)."""
    if moment.tzinfo is None:
        raise ValueError("session_phase needs an aware datetime")
    local = moment.astimezone(KST)
    if local.weekday() >= 5:
        return SessionPhase.CLOSED
    return phase_at_time(local.time())


STATIC_VI_RATE = Decimal("0.10")
VI_DURATION = dt.timedelta(minutes=2)


def vi_thresholds(phase: SessionPhase, *, kospi200: bool = False) -> tuple[Decimal, Decimal | None]:
    """(static, dynamic) VI deviation thresholds as fractions; dynamic is None when it does not
    apply (outside the continuous session and the closing auction)."""
    if phase is SessionPhase.CONTINUOUS:
        return STATIC_VI_RATE, Decimal("0.03") if kospi200 else Decimal("0.06")
    if phase is SessionPhase.CLOSING_AUCTION:
        return STATIC_VI_RATE, Decimal("0.02") if kospi200 else Decimal("0.04")
    return STATIC_VI_RATE, None


def change_sign(price: int, base_price: int, limits: tuple[int, int]) -> str:
    """Kiwoom/KRX sign code: 1 상한가, 2 상승, 3 보합, 4 하한가, 5 하락."""
    lower, upper = limits
    if price >= upper and price > base_price:
        return "1"
    if price <= lower and price < base_price:
        return "4"
    if price > base_price:
        return "2"
    if price < base_price:
        return "5"
    return "3"
