"""Commission and the dated sell tax: rates by trade date and market, rounding to the won."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krx import Market, commission, order_fees, sell_tax, sell_tax_rate


@pytest.mark.parametrize(
    ("day", "market", "rate"),
    [
        (dt.date(2019, 5, 31), Market.KOSPI, "0.0030"),
        (dt.date(2019, 6, 3), Market.KOSDAQ, "0.0025"),
        (dt.date(2022, 12, 30), Market.KOSPI, "0.0023"),
        (dt.date(2023, 6, 1), Market.KOSDAQ, "0.0020"),
        (dt.date(2024, 6, 1), Market.KOSPI, "0.0018"),
        (dt.date(2025, 12, 31), Market.KOSPI, "0.0015"),
        (dt.date(2025, 12, 31), Market.KOSDAQ, "0.0015"),
        (dt.date(2026, 1, 2), Market.KOSPI, "0.0020"),
        (dt.date(2026, 1, 2), Market.KOSDAQ, "0.0020"),
    ],
)
def test_dated_tax_table(day: dt.date, market: Market, rate: str) -> None:
    assert sell_tax_rate(day, market) == Decimal(rate)


def test_fees_round_down_to_the_won() -> None:
    assert commission(1_000_000) == 150
    assert commission(6_666) == 0  # 0.99999 won
    assert sell_tax(1_000_001, dt.date(2025, 3, 4), Market.KOSPI) == 1_500


@given(
    st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=20),
    st.integers(min_value=1_000, max_value=500_000),
    st.sampled_from([dt.date(2025, 6, 2), dt.date(2026, 6, 2)]),
)
def test_split_fills_never_change_an_orders_fees(qtys: list[int], price: int, day: dt.date) -> None:
    """Charged per fill as cumulative minus previous cumulative, the total equals the fees of
    one fill of the whole amount."""
    charged_comm = charged_tax = filled = 0
    for q in qtys:
        filled += q * price
        comm, tax = order_fees(filled, sell=True, trade_date=day, market=Market.KOSPI)
        charged_comm, charged_tax = comm, tax
    assert charged_comm == commission(filled)
    assert charged_tax == sell_tax(filled, day, Market.KOSPI)


def test_buys_pay_no_tax() -> None:
    assert order_fees(10_000_000, sell=False, trade_date=dt.date(2026, 1, 2), market="KOSPI") == (
        1_500,
        0,
    )


@given(
    amount=st.integers(min_value=-(10**13), max_value=10**13),
    rate=st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=6),
)
def test_integer_rounding_equals_decimal_rounding(amount: int, rate: Decimal) -> None:
    """The fill path's exact integer rounding gives the Decimal rounding's figure to the won."""
    from krx.fees import ceil_rate, ceil_won, floor_rate, floor_won

    assert floor_rate(amount, rate) == floor_won(Decimal(amount) * rate)
    assert ceil_rate(amount, rate) == ceil_won(Decimal(amount) * rate)


@given(day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_the_tax_rate_is_the_newest_table_row_on_or_before_the_day(day: dt.date) -> None:
    from krx.fees import TAX_TABLE

    for market in (Market.KOSPI, Market.KOSDAQ):
        rows = [rates[market] for since, rates in TAX_TABLE if since <= day]
        assert sell_tax_rate(day, market) == (rows[-1] if rows else TAX_TABLE[0][1][market])
