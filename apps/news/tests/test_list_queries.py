"""Lists at real size (issue 17): the news API makes as many queries for 30 items as for 3, and its limit is
bounded."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.tests.querycount import assert_flat_queries
from apps.news.tests.factories import NewsItemFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["", "?code=005930", "?since=2025-01-01"])
def test_news_list(trader_client, django_assert_max_num_queries, query) -> None:
    NewsItemFactory.create_batch(3)
    assert_flat_queries(
        lambda: trader_client.get(reverse("api-news") + query),
        lambda: NewsItemFactory.create_batch(27),
        6,
        django_assert_max_num_queries,
    )


def test_news_limit_is_bounded(trader_client, settings) -> None:
    settings.LIST_COUNT_CAP = 20
    NewsItemFactory.create_batch(30)
    body = trader_client.get(reverse("api-news"), {"limit": 100_000}).json()
    assert body["count"] == 20 and body["count_exact"] is False
    assert trader_client.get(reverse("api-news"), {"offset": 21}).status_code == 400
