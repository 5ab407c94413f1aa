"""Primitive decoders for Kiwoom's string encodings (PROTOCOL.md §3.4).

Every Kiwoom value is a string: direction-signed prices (`"+70000"` means 70,000 and up), arithmetic
signs on changes and rates, zero-padded fixed-width account numbers with the sign in front
(`"-00000000000084"`), condition-search rates ×100, `A`-prefixed codes and KST wall-clock times.
These helpers turn them into int KRW, Decimal rates, bare codes and aware datetimes.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from apps.broker.contract.errors import BrokerUnavailable
from krx import KST
from krx.codes import strip_market_prefix

MILLION = 1_000_000
HUNDRED_MILLION = 100_000_000


class GarbledValue(BrokerUnavailable, ValueError):
    """A field that must be a number is not: the answer is garbage, and nothing is guessed."""


def signed_int(raw: str) -> int:
    """Arithmetic integer: `"-00000000000084"` → -84, `"+600"` → 600, `""` → 0."""
    try:
        # int() already accepts a sign, zero padding and surrounding blanks: the hot path.
        return int(raw)
    except (ValueError, TypeError):
        s = raw.strip() if raw else ""
        if not s:
            return 0
        try:
            return int(Decimal(s.replace(",", "")))
        except (InvalidOperation, ValueError, OverflowError):
            raise GarbledValue(f"not a number: {s[:20]!r}") from None


def price(raw: str) -> int | None:
    """A direction-signed price as int KRW (the sign is a direction, not arithmetic).

    Blank, unparseable and zero are `None`: no price is ever 0 won."""
    try:
        # The hot path (every tick): int() accepts the sign and zero padding.
        return abs(int(raw)) or None
    except (ValueError, TypeError):
        s = raw.strip().replace(",", "") if isinstance(raw, str) else ""
        if not s:
            return None
        try:
            value = Decimal(s)
        except InvalidOperation:
            return None
        if not value.is_finite() or value != value.to_integral_value():
            return None
        return abs(int(value)) or None


def unsigned_int(raw: str) -> int:
    """Quantities/amounts that are documented unsigned; padding is dropped."""
    try:
        return abs(int(raw))  # the hot path (tick quantities)
    except (ValueError, TypeError):
        return abs(signed_int(raw))


def int_or_none(raw: str) -> int | None:
    """An unsigned quantity that may be absent (blank → None; 0 stays 0)."""
    s = raw.strip() if raw else ""
    return abs(signed_int(s)) if s else None


def rate(raw: str) -> Decimal | None:
    """A percent string (`"+0.57"`, `"-43.8977"`) as Decimal percent; blank or garbled → None."""
    s = raw.strip() if raw else ""
    if not s:
        return None
    try:
        value = Decimal(s.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def rate_x100(raw: str) -> Decimal | None:
    """Condition-search rates come ×100 without a point: `"-00000130"` → -1.30 (percent)."""
    s = raw.strip() if raw else ""
    if not s:
        return None
    try:
        return Decimal(int(s)).scaleb(-2)
    except ValueError:
        return None


def millions_to_krw(raw: str) -> int:
    """Amounts reported in 백만원 (rankings, daily charts, FID 14) as int KRW."""
    return abs(signed_int(raw)) * MILLION


def code(raw: str) -> str:
    """Strip the one-letter market prefix (`A005930` → `005930`, `A0001A0` → `0001A0`); leave anything
    else alone (the one rule: `krx.codes.strip_market_prefix`)."""
    return strip_market_prefix(raw)


def order_no(raw: str) -> str:
    """Order numbers keep their 7-digit zero padding (they are identifiers, not numbers)."""
    s = raw.strip()
    return s.zfill(7) if s.isdigit() else s


def kst_datetime(raw: str) -> datetime:
    """`YYYYMMDDHHMMSS` KST wall clock → aware datetime."""
    s = raw.strip()
    return datetime(
        int(s[0:4]),
        int(s[4:6]),
        int(s[6:8]),
        int(s[8:10]),
        int(s[10:12]),
        int(s[12:14]),
        tzinfo=KST,
    )


def kst_date(raw: str) -> date | None:
    """`YYYYMMDD` → date; blank or all-zero dates (Kiwoom's "none") → None."""
    s = raw.strip()
    if not s or not s.strip("0"):
        return None
    return date(int(s[0:4]), int(s[4:6]), int(s[6:8]))


def hhmmss(raw: str) -> time | None:
    s = raw.strip()
    if len(s) < 6 or not s.isdigit():
        return None
    return time(int(s[0:2]), int(s[2:4]), int(s[4:6]))


def kst_at(day: date, raw_hhmmss: str) -> datetime | None:
    """Combine a trading day with an `HHMMSS` string into an aware KST datetime."""
    t = hhmmss(raw_hhmmss)
    if t is None:
        return None
    return datetime(day.year, day.month, day.day, t.hour, t.minute, t.second, tzinfo=KST)


def kst_today(now: datetime) -> date:
    if now.tzinfo is None:
        raise ValueError("naive datetime passed where an aware one is required")
    return now.astimezone(KST).date()


def blank_to_none(raw: str) -> str | None:
    s = raw.strip() if raw else ""
    return s or None
