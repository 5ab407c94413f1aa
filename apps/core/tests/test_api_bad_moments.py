"""Times at the edges (offsets PostgreSQL refuses, moments with no UTC time, days past the calendar) are
a 400 naming the parameter, or an answer — never a 500. Found by the schema fuzz (test_api_fuzz.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

CASES = [
    "/api/v1/news?since=2025-01-01T00:00:00%2B23:00",
    "/api/v1/news?since=0001-01-01T00:00:00%2B09:00",
    "/api/v1/news?since=9999-12-31T23:59:59-14:00",
    "/api/v1/conditions/events?since=2025-01-01T00:00:00%2B23:00",
    "/api/v1/conditions/events?until=2025-01-01T00:00:00-23:59",
    "/api/v1/scanner/top?at=2025-01-01T09:00:00%2B23:00",
    "/api/v1/scanner/top?at=9999-12-31T09:00:00",
    "/api/v1/scanner/top?at=0001-01-01T09:00:00%2B09:00",
    "/api/v1/scanner/top?day=9999-12-31&at=09:00",
    "/api/v1/fills?to=9999-12-31",
    "/api/v1/fills?from=0001-01-01",
    "/api/v1/fills?order=not-a-uuid",
    "/api/v1/orders?to=9999-12-31",
    "/api/v1/trades?from=0001-01-01&to=9999-12-31",
    "/api/v1/reports/metrics?from=0001-01-01&to=9999-12-31",
    "/api/v1/reports/daily?date=9999-12-31",
]


@pytest.mark.parametrize("url", CASES)
def test_edge_moments_are_answered(trader_client, url: str) -> None:
    response = trader_client.get(url)
    assert response.status_code < 500, response.content[:300]
    if response.status_code == 400:
        assert response.json(), "a 400 names what was wrong"


@pytest.mark.parametrize(
    "published_at",
    ["2025-01-01T09:00:00+23:00", "0001-01-01T00:00:00+09:00", "2025-01-01T09:00:00"],
)
def test_news_with_an_impossible_time_is_refused_and_stores_nothing(
    trader_client, published_at: str
) -> None:
    from apps.news.models import NewsItem

    item = {"code": "005930", "score": 50, "headline": "h", "source": "s"}
    response = trader_client.post(
        "/api/v1/news", {**item, "published_at": published_at}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "published_at" in response.json()
    assert not NewsItem.objects.exists()


def test_news_from_before_1970_is_refused(trader_client) -> None:
    item = {"code": "005930", "score": 50, "headline": "h", "source": "s"}
    response = trader_client.post(
        "/api/v1/news",
        {**item, "published_at": "0389-04-25T03:49:07+09:00"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "published_at" in response.json()
