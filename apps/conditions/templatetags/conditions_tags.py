"""Template filters of the condition pages."""

from __future__ import annotations

from django import template

from apps.core.templatetags.stockagent import krw

register = template.Library()


@register.filter
def signed_krw(value: int | None) -> str:
    """전일대비 in KRW with its sign: `+1,200원`, `-500원`, `0원`; `-` when unknown."""
    if value is None:
        return "-"
    return f"+{krw(value)}" if value > 0 else krw(value)
