"""Daily price limits (가격제한폭), the change sign, and volatility-interruption thresholds.

- Price limits: ±30 % of the base price since 2015-06-15, rounded to a valid tick toward the
  base (PROTOCOL.md §9.3; matches the ka10001 example: base 74,900 -> 97,300 / 52,500).
- VI: static 10 % from the static reference; dynamic 3 % (KOSPI200 constituents) / 6 % (others)
  in the continuous session, 2 % / 4 % in the closing auction; a 2-minute single-price period
  (PROTOCOL.md §9.5).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .markets import Market
from .sessions import SessionPhase
from .ticks import tick_round

LIMIT_30PCT_SINCE = dt.date(2015, 6, 15)
STATIC_VI_RATE = Decimal("0.10")
VI_DURATION = dt.timedelta(minutes=2)


def price_limits(base_price: int, market: Market | str, on_date: dt.date) -> tuple[int, int]:
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
