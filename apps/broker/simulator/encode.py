"""Kiwoom wire encodings for the simulator (PROTOCOL.md §3.4).

Owns the translation from plain integers/Decimals/aware datetimes into the strings Kiwoom puts on the
wire: direction-signed prices, arithmetic-signed changes, sign codes, percent strings, zero-padded
fixed-width account numbers, 9-digit condition-search numbers, 'A' code prefixes, units such as
백만원 and the KST wall-clock date/time formats. Nothing here knows about HTTP or the engine.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from krx import KST

# Sign codes (pre_sig / pred_pre_sig / FID 25).
SIGN_UPPER_LIMIT = "1"
SIGN_UP = "2"
SIGN_FLAT = "3"
SIGN_LOWER_LIMIT = "4"
SIGN_DOWN = "5"

_CENT = Decimal("0.01")


def signed_price(price: int, base: int) -> str:
    """Direction-signed price: '+' above the base (previous close), '-' below, bare when equal.

    A zero price means "no quote" and is sent bare ("0"), as the official after-hours examples do.
    """
    if price == 0 or base == 0 or price == base:
        return str(price)
    return f"+{price}" if price > base else f"-{price}"


def arith(value: int) -> str:
    """Arithmetic sign: '+100', '-100', '0'."""
    if value > 0:
        return f"+{value}"
    return str(value)


def sign_code(price: int, base: int, upper: int | None = None, lower: int | None = None) -> str:
    """전일대비기호: 1 상한가, 2 상승, 3 보합, 4 하한가, 5 하락."""
    if price == 0 or base == 0:
        return SIGN_FLAT
    if upper is not None and price >= upper:
        return SIGN_UPPER_LIMIT
    if lower is not None and price <= lower:
        return SIGN_LOWER_LIMIT
    if price > base:
        return SIGN_UP
    if price < base:
        return SIGN_DOWN
    return SIGN_FLAT


def change_rate(price: int, base: int) -> Decimal:
    """Percent change vs base, 2 decimals, half-up (Kiwoom's rounding rule is not documented)."""
    if base == 0 or price == 0:
        return Decimal("0.00")
    return (Decimal(price - base) * 100 / Decimal(base)).quantize(_CENT, rounding=ROUND_HALF_UP)


def pct(value: Decimal | int | float, decimals: int = 2, signed: bool = True) -> str:
    """Percent string: '+0.57', '-0.07', '0.00' (signed) or '0.57'/'-0.07' (unsigned form)."""
    if isinstance(value, Decimal) and value.as_tuple().exponent == -decimals:
        d = value  # already at the wanted precision (the engine's rates are): skip quantize
    else:
        d = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if not d:
        return _zero(decimals)
    text = str(d)
    if signed and d > 0:
        return f"+{text}"
    return text


def _zero(decimals: int) -> str:
    return "0." + "0" * decimals if decimals else "0"


def ratio_pct(num: int, den: int, decimals: int = 2, signed: bool = True) -> str:
    """num/den as a percent string, half-up; 0 when the denominator is 0. Integer arithmetic
    because it runs for every pushed tick."""
    if den == 0 or num == 0:
        return _zero(decimals)
    scale = 10**decimals
    a, b = abs(num) * 100 * scale, abs(den)
    q = (2 * a + b) // (2 * b)
    if q == 0:
        return _zero(decimals)
    body = f"{q // scale}.{q % scale:0{decimals}d}" if decimals else str(q)
    if (num < 0) != (den < 0):
        return f"-{body}"
    return f"+{body}" if signed else body


def pad(value: int, width: int) -> str:
    """Zero-padded fixed width with the sign in the first position: pad(-84, 15) -> '-00000000000084'."""
    if value < 0:
        return "-" + str(-value).zfill(width - 1)
    return str(value).zfill(width)


def cond_num(value: int) -> str:
    """Condition-search number: 9 characters, zero-padded, sign in front ('000075000', '-00000100')."""
    return pad(value, 9)


def cond_rate(rate: Decimal) -> str:
    """Condition-search rate: percent ×100 as a 9-character number ('-00000130' = -1.30 %)."""
    return pad(int((rate * 100).to_integral_value(rounding=ROUND_HALF_UP)), 9)


def prefixed(code: str) -> str:
    """'A' market prefix used by account TRs and condition search (A 주식; ELW/ETN are not simulated)."""
    return code if code[:1].isalpha() else f"A{code}"


def strip_exchange_suffix(code: str) -> str:
    """'005930_NX' / '005930_AL' -> '005930' (the simulator is KRX only, like Kiwoom's mock host)."""
    return code.split("_", 1)[0]


def millions(krw: int) -> int:
    """KRW -> 백만원, truncated toward zero (how Kiwoom rounds is undocumented)."""
    return int(krw / 1_000_000) if krw < 0 else krw // 1_000_000


def hundred_millions(krw: int) -> int:
    """KRW -> 억원, truncated."""
    return krw // 100_000_000


def kst(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime passed to the Kiwoom encoder")
    return dt.astimezone(KST)


def hhmmss(dt: datetime) -> str:
    # Hot path (every pushed frame): skip astimezone/strftime when the time is already KST.
    d = dt if dt.tzinfo is KST else kst(dt)
    return f"{d.hour:02d}{d.minute:02d}{d.second:02d}"


def yyyymmdd(dt: datetime) -> str:
    return kst(dt).strftime("%Y%m%d")


def yyyymmddhhmmss(dt: datetime) -> str:
    return kst(dt).strftime("%Y%m%d%H%M%S")


def ord_no(number: int) -> str:
    """7-digit zero-padded order number."""
    return str(number).zfill(7)


def date8(day: date | datetime | None) -> str:
    """YYYYMMDD of a date (KST for datetimes); '' when unknown."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        return yyyymmdd(day)
    return day.strftime("%Y%m%d")
