"""Kiwoom value encodings (PROTOCOL.md §3.4)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.broker.simulator import encode as E
from krx import KST


@pytest.mark.parametrize(
    ("price", "base", "expected"),
    [(70000, 69900, "+70000"), (20800, 21000, "-20800"), (5000, 5000, "5000"), (0, 5000, "0")],
)
def test_signed_price(price: int, base: int, expected: str) -> None:
    assert E.signed_price(price, base) == expected


def test_arith_and_sign_codes() -> None:
    assert (E.arith(100), E.arith(-100), E.arith(0)) == ("+100", "-100", "0")
    assert E.sign_code(130, 100, upper=130, lower=70) == "1"
    assert E.sign_code(110, 100, upper=130, lower=70) == "2"
    assert E.sign_code(100, 100) == "3"
    assert E.sign_code(70, 100, upper=130, lower=70) == "4"
    assert E.sign_code(90, 100) == "5"


def test_rates() -> None:
    assert E.pct(E.change_rate(75000, 74900)) == "+0.13"
    assert E.pct(Decimal("-0.07")) == "-0.07"
    assert E.pct(0) == "0.00"
    assert E.pct(Decimal("-43.89771"), decimals=4, signed=False) == "-43.8977"
    assert E.pct(Decimal("46.25"), signed=False) == "46.25"


def test_padding_matches_official_examples() -> None:
    assert E.pad(17534, 15) == "000000000017534"
    assert E.pad(-84, 15) == "-00000000000084"
    assert E.pad(-163958, 12) == "-00000163958"
    assert E.cond_num(75000) == "000075000"
    assert E.cond_num(-100) == "-00000100"
    assert E.cond_rate(Decimal("-1.30")) == "-00000130"
    assert E.cond_rate(Decimal("1.50")) == "000000150"


@given(st.integers(min_value=-(10**13), max_value=10**14))
def test_pad_roundtrips(value: int) -> None:
    text = E.pad(value, 15)
    assert len(text) == 15
    assert int(text) == value


def test_codes_units_and_times() -> None:
    assert E.prefixed("005930") == "A005930"
    assert E.prefixed("A005930") == "A005930"
    assert E.strip_exchange_suffix("005930_NX") == "005930"
    assert E.millions(5_308_092_999_999) == 5_308_092
    assert E.ord_no(69) == "0000069"
    t = datetime(2025, 1, 15, 0, 30, 5, tzinfo=UTC)
    assert (E.hhmmss(t), E.yyyymmdd(t), E.yyyymmddhhmmss(t)) == (
        "093005",
        "20250115",
        "20250115093005",
    )
    with pytest.raises(ValueError, match="naive"):
        E.hhmmss(datetime(2025, 1, 15, 9, 0))


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=-(10**9), max_value=10**9).filter(bool),
    st.sampled_from([1, 2, 4]),
    st.booleans(),
)
def test_ratio_pct_matches_decimal_reference(
    num: int, den: int, decimals: int, signed: bool
) -> None:
    reference = E.pct(Decimal(num) * 100 / Decimal(den), decimals, signed)
    assert E.ratio_pct(num, den, decimals, signed) == reference


def test_hhmmss_of_non_kst_times() -> None:

    t = datetime(2025, 1, 15, 9, 5, 7, tzinfo=KST)
    assert E.hhmmss(t) == "090507"
    assert E.hhmmss(t.astimezone(UTC)) == "090507"
