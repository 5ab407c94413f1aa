"""Formatting helpers: one krw() formatter, KST display, signed rates, stock codes linked to their chart."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

register = template.Library()
from krx import KST  # noqa: E402 - one KST for the project


def krw(value: int | None) -> str:
    """1234567 → '1,234,567원' ('₩1,234,567' in English). Money is integer KRW everywhere; anything else
    is a bug shown as-is."""
    if value is None or value == "":
        return "-"
    if not isinstance(value, int):
        return str(value)
    return gettext("%(amount)s원") % {"amount": f"{value:,}"}


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


def chart_link(code: str | None, day: date | datetime | None = None) -> SafeString | str:
    """`005930` → the code as `<code>`, linked to its chart page (`/chart/005930/`); with a day (a date, or
    an aware time: its KST date), the chart of that day (`?date=2025-02-03`)."""
    if not code:
        return "-"
    try:
        url = reverse("chart:page", args=[code])
        if isinstance(day, datetime):
            url += "?date=" + day.astimezone(KST).date().isoformat()
        elif isinstance(day, date):
            url += "?date=" + day.isoformat()
    except NoReverseMatch:  # not a path segment (a slash): shown, not linked
        return format_html("<code>{}</code>", code)
    return format_html(
        '<a class="code-link" href="{}" title="{}"><code>{}</code></a>', url, gettext("차트"), code
    )


register.filter("krw", krw)
register.filter("chart_link", chart_link)
register.filter("kst", kst)
register.filter("signed_rate", signed_rate)


@register.simple_tag
def notification_kind(value: str) -> str:
    """A notification kind's label in the active language (`condition.entry` → 조건 편입)."""
    from apps.notifications.models import NotificationKind

    try:
        return str(NotificationKind(value).label)
    except ValueError:
        return value
