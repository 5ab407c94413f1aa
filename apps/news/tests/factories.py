"""factory-boy factories of the news app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from apps.news.models import NewsItem, NewsOrigin


class NewsItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NewsItem

    code = "005930"
    headline = factory.Sequence(lambda n: f"headline {n}")
    source = "test wire"
    published_at = factory.Sequence(
        lambda n: datetime(2025, 1, 15, 0, 5, tzinfo=UTC) + timedelta(minutes=n)
    )
    score = 60
    origin = NewsOrigin.API
