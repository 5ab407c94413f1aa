"""Reads of the news app: the scores known at a moment and the items of a period (backtests replay the
stored news through these)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from .contract import NewsItem as NewsItemData
from .contract import NewsScore
from .models import NewsItem


def scores_as_of(codes: Iterable[str], at: datetime) -> dict[str, NewsScore]:
    """The latest score of each code published at or before `at` (codes without one are absent). Two
    items of one code at the same time: the one stored last wins."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    latest = (
        NewsItem.objects.filter(code=OuterRef("code"), published_at__lte=at)
        .order_by("-published_at", "-id")
        .values("id")[:1]
    )
    rows = NewsItem.objects.filter(code__in=codes, published_at__lte=at, id=Subquery(latest))
    return {row.code: row.as_score() for row in rows}


def items_between(start: datetime, end: datetime) -> list[NewsItemData]:
    """Items published in [start, end), oldest first (then in the order they were stored)."""
    rows = NewsItem.objects.filter(published_at__gte=start, published_at__lt=end).order_by(
        "published_at", "id"
    )
    return [row.as_item() for row in rows]


def news_list(code: str | None = None, since: datetime | None = None) -> QuerySet[NewsItem]:
    """The API's listing: newest first, optionally one code's and/or from a moment on."""
    rows = NewsItem.objects.all()
    if code:
        rows = rows.filter(code=code)
    if since is not None:
        rows = rows.filter(published_at__gte=since)
    return rows.order_by("-published_at", "-id")
