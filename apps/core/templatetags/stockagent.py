"""Formatting helpers: one krw() formatter, KST display, signed rates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django import template

register = template.Library()
from krx import KST  # noqa: E402 - one KST for the project


def krw(value: int | None) -> str:
    """1234567 → '1,234,567원'. Money is integer KRW everywhere; anything else is a bug shown as-is."""
    if value is None or value == "":
        return "-"
    if not isinstance(value, int):
        return str(value)
    return f"{value:,}원"


def kst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        raise ValueError("naive datetime passed to kst()")
    return value.astimezone(KST).strftime(fmt)


def signed_rate(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}%"


register.filter("krw", krw)
register.filter("kst", kst)
register.filter("signed_rate", signed_rate)
