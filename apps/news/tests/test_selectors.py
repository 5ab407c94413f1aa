"""The stored news as a backtest replays it: scores known at a moment, items of a period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.news.selectors import items_between, scores_as_of

from .factories import NewsItemFactory

pytestmark = pytest.mark.django_db


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 1, 15, hour, minute, tzinfo=UTC)


def test_scores_as_of_take_the_latest_item_published_by_then():
    NewsItemFactory(code="005930", score=40, published_at=at(0, 5))
    NewsItemFactory(code="005930", score=80, published_at=at(0, 30))
    NewsItemFactory(code="000660", score=55, published_at=at(0, 10))
    NewsItemFactory(code="035720", score=90, published_at=at(0, 10))

    early = scores_as_of(["005930", "000660", "999999"], at(0, 20))
    assert {c: s.score for c, s in early.items()} == {"005930": 40, "000660": 55}
    later = scores_as_of(["005930"], at(0, 30))
    assert later["005930"].score == 80 and later["005930"].published_at == at(0, 30)
    assert scores_as_of(["005930"], at(0, 4)) == {}
    assert scores_as_of([], at(1)) == {}


def test_two_items_at_the_same_time_the_last_stored_wins():
    NewsItemFactory(code="005930", score=40, published_at=at(0, 5), headline="a")
    NewsItemFactory(code="005930", score=70, published_at=at(0, 5), headline="b")
    assert scores_as_of(["005930"], at(0, 5))["005930"].score == 70


def test_items_between_is_half_open_and_ordered():
    a = NewsItemFactory(published_at=at(0, 5))
    b = NewsItemFactory(published_at=at(0, 10), code="000660", url="https://news.example/b")
    NewsItemFactory(published_at=at(0, 15))
    items = items_between(at(0, 5), at(0, 15))
    assert [(i.code, i.headline) for i in items] == [(a.code, a.headline), (b.code, b.headline)]
    assert items[1].url == "https://news.example/b"
