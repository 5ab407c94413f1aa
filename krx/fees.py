"""Commission and the securities transaction tax (증권거래세 incl. 농어촌특별세) by trade date and market.

Rounding, as the broker does it: both are computed on an order's CUMULATIVE executed amount and
rounded DOWN to the won; each fill is charged the difference to the previous cumulative figure
(`order_fees`), so splitting an order into many fills never changes its total (brokers charge
per order execution, not per print).

Tax table by trade date and market (rate on the sell amount; KOSPI = 거래세 + 농특세 0.15 %):
- until 2019-06-02: KOSPI 0.15+0.15, KOSDAQ 0.30, KONEX 0.30
- 2019-06-03: KOSPI 0.10+0.15, KOSDAQ 0.25, KONEX 0.10 (증권거래세법 시행령 개정; fntimes 2019-04-02)
- 2021-01-01: KOSPI 0.08+0.15, KOSDAQ 0.23
- 2023-01-01: KOSPI 0.05+0.15, KOSDAQ 0.20
- 2024-01-01: KOSPI 0.03+0.15, KOSDAQ 0.18
- 2025-01-01: KOSPI 0.00+0.15, KOSDAQ 0.15
- 2026-01-01: KOSPI 0.05+0.15 = 0.20, KOSDAQ 0.20, KONEX 0.10 unchanged — the rates were restored
  to the 2023 level by the 증권거래세법 시행령 amendment that followed the 2025 세제개편안 (MOEF
  announcement 2025-12-01, in force for sales from 2026-01-01; reported e.g. by Hankyung Magazine
  2025-12-01 "내년 1월 1일부터 코스피·코스닥 시장에서 증권거래세율이 0.05%포인트씩 오른다").
  Checked against press reports, not the promulgated decree text itself: revisit if it changes.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache

from .markets import Market

DEFAULT_COMMISSION_RATE = Decimal("0.00015")  # 0.015 % per side


def _rates(kospi: str, kosdaq: str, konex: str) -> dict[Market, Decimal]:
    return {
        Market.KOSPI: Decimal(kospi),
        Market.KOSDAQ: Decimal(kosdaq),
        Market.KONEX: Decimal(konex),
    }


# (effective from, {market: total rate}) in ascending date order.
TAX_TABLE: tuple[tuple[dt.date, dict[Market, Decimal]], ...] = (
    (dt.date(1996, 1, 1), _rates("0.0030", "0.0030", "0.0030")),
    (dt.date(2019, 6, 3), _rates("0.0025", "0.0025", "0.0010")),
    (dt.date(2021, 1, 1), _rates("0.0023", "0.0023", "0.0010")),
    (dt.date(2023, 1, 1), _rates("0.0020", "0.0020", "0.0010")),
    (dt.date(2024, 1, 1), _rates("0.0018", "0.0018", "0.0010")),
    (dt.date(2025, 1, 1), _rates("0.0015", "0.0015", "0.0010")),
    (dt.date(2026, 1, 1), _rates("0.0020", "0.0020", "0.0010")),
)


def sell_tax_rate(trade_date: dt.date, market: Market | str) -> Decimal:
    """Total transaction tax rate on a sell executed on `trade_date` in `market`."""
    if type(market) is not Market:  # `Market(...)` of a member costs an enum lookup on every fill
        market = Market(market)
    for since, rates in reversed(TAX_TABLE):
        if trade_date >= since:
            return rates[market]
    return TAX_TABLE[0][1][market]


@lru_cache(maxsize=64)
def _ratio_of(rate: Decimal) -> tuple[int, int]:
    return rate.as_integer_ratio()


# The last rate asked for, by identity (a Decimal is immutable): nearly every call of a run passes
# the same rate object, and hashing a Decimal for the cache costs more than the arithmetic. One
# tuple, replaced whole, so that concurrent callers never pair a rate with another's ratio.
_last_ratio: tuple[Decimal, tuple[int, int]] = (Decimal(0), (0, 1))


def _ratio(rate: Decimal) -> tuple[int, int]:
    """`rate` as an exact fraction (numerator, denominator > 0)."""
    global _last_ratio
    last = _last_ratio
    if last[0] is rate:
        return last[1]
    ratio = _ratio_of(rate)
    _last_ratio = (rate, ratio)
    return ratio


def floor_won(amount: Decimal) -> int:
    """Round a KRW amount down to the won."""
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def ceil_won(amount: Decimal) -> int:
    """Round a KRW amount up to the won (what a broker holds for a fee not yet charged)."""
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def floor_rate(amount: int, rate: Decimal) -> int:
    """`amount × rate` rounded down to the won, in exact integer arithmetic (the same figure as
    `floor_won(Decimal(amount) * rate)`, without building Decimals on the fill path)."""
    num, den = _ratio(rate)
    return amount * num // den


def ceil_rate(amount: int, rate: Decimal) -> int:
    """`amount × rate` rounded up to the won, exactly (as `ceil_won(Decimal(amount) * rate)`)."""
    num, den = _ratio(rate)
    return -(-amount * num // den)


def commission(amount: int, rate: Decimal = DEFAULT_COMMISSION_RATE) -> int:
    """Commission on an executed amount, rounded down to the won."""
    return floor_rate(amount, rate)


def sell_tax(amount: int, trade_date: dt.date, market: Market | str) -> int:
    """Transaction tax on a sell amount, rounded down to the won."""
    return floor_rate(amount, sell_tax_rate(trade_date, market))


def order_fees(
    filled_value: int,
    *,
    sell: bool,
    trade_date: dt.date,
    market: Market | str,
    rate: Decimal = DEFAULT_COMMISSION_RATE,
) -> tuple[int, int]:
    """(commission, tax) of an order whose CUMULATIVE executed amount is `filled_value`; a
    fill's charge is this minus the figures before it."""
    tax = sell_tax(filled_value, trade_date, market) if sell else 0
    return commission(filled_value, rate), tax
