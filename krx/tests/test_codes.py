"""The one KRX stock-code rule (krx.codes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krx.codes import (
    STOCK_CODE_PATTERN,
    clean_stock_code,
    is_stock_code,
    strip_market_prefix,
)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("005930", True),
        ("00104K", True),  # preferred share
        ("0001A0", True),  # alphanumeric listing (2024-)
        ("A05930", False),  # a letter first is a prefix, not a code
        ("05930", False),
        ("0059300", False),
        ("A005930", False),  # prefixed: clean it first
        ("0001a0", False),  # lower case: clean it first
        (" 005930", False),
        ("００５９３０", False),  # full-width digits are not ASCII digits
        ("", False),
        (None, False),
        (5930, False),
    ],
)
def test_is_stock_code(value: object, ok: bool) -> None:
    assert is_stock_code(value) is ok


@pytest.mark.parametrize(
    ("raw", "stripped"),
    [
        ("A005930", "005930"),
        ("A0001A0", "0001A0"),
        ("a0001a0", "0001A0"),
        (" Q530036 ", "530036"),
        ("005930", "005930"),
        ("AAPL", "AAPL"),  # a foreign ticker keeps its letters
        ("TSLA123", "TSLA123"),
        ("", ""),
    ],
)
def test_strip_market_prefix(raw: str, stripped: str) -> None:
    assert strip_market_prefix(raw) == stripped


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (" a005930 ", "005930"),
        ("0001a0", "0001A0"),
        ("00104k", "00104K"),
        ("5930", None),
        ("", None),
    ],
)
def test_clean_stock_code(raw: str, code: str | None) -> None:
    assert clean_stock_code(raw) == code


codes = st.from_regex(f"\\A{STOCK_CODE_PATTERN}\\Z")


@given(codes, st.sampled_from("AQJaqj"))
def test_a_prefixed_code_cleans_to_itself(code: str, prefix: str) -> None:
    assert is_stock_code(code)
    assert clean_stock_code(prefix + code) == code
    assert clean_stock_code(code.lower()) == code
    assert strip_market_prefix(code) == code


@given(st.text(max_size=9))
def test_clean_returns_a_code_or_none(raw: str) -> None:
    cleaned = clean_stock_code(raw)
    assert cleaned is None or is_stock_code(cleaned)
