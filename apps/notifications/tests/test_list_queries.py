"""Lists at real size (issue 17): the delivery log and the channels (page and API) make as many queries for
30 rows as for 3 — a digest's size included."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.tests.querycount import assert_flat_queries
from apps.notifications.tests.factories import ChannelFactory, DeliveryFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "ceiling"),
    [
        (reverse("notifications:settings"), 12),
        (reverse("api-notification-deliveries"), 6),
        (reverse("api-notification-deliveries") + "?kind=digest", 6),
        (reverse("api-notification-channels"), 6),
    ],
)
def test_notification_lists(
    trader, trader_client, django_assert_max_num_queries, url, ceiling
) -> None:
    def grow(n: int) -> None:
        for _ in range(n):
            channel = ChannelFactory(user=trader)
            digest = DeliveryFactory(channel=channel, notification=None, is_digest=True)
            DeliveryFactory(channel=channel, digest=digest, status="digested")
            DeliveryFactory(channel=channel)

    grow(3)
    body = assert_flat_queries(
        lambda: trader_client.get(url), lambda: grow(27), ceiling, django_assert_max_num_queries
    )
    if "kind=digest" in url:
        assert {row["title"] for row in body.json()["results"]} == {"알림 요약 (1건)"}
