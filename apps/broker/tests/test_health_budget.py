"""The shared request budget in /api/v1/health and on the system page (real Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from apps.broker.backends import kiwoom_config_from_settings
from apps.broker.kiwoom.ratelimit import Priority, RateBudget, SharedRateLimiter, limiter_prefix

pytestmark = pytest.mark.django_db


@pytest.fixture
def budget_in_use(settings: Any) -> Iterator[None]:
    settings.BROKER_BACKEND = "kiwoom"
    settings.KIWOOM_BASE_URL = f"http://budget-{uuid.uuid4().hex[:8]}.invalid"
    config = kiwoom_config_from_settings()
    prefix = limiter_prefix(config.key_prefix, config.base_url)

    async def seed() -> None:
        redis = Redis.from_url(settings.REDIS_URL)
        lim = SharedRateLimiter(redis, RateBudget(1000.0, burst=10), prefix)
        for prio in (Priority.ORDER, Priority.CHART, Priority.CHART):
            await lim.acquire(prio)
        await lim.penalize(30.0)
        assert await lim.try_acquire(Priority.SCAN, "waiting-scan") > 0
        await redis.aclose()

    async def cleanup() -> None:
        redis = Redis.from_url(settings.REDIS_URL)
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

    asyncio.run(seed())
    yield
    asyncio.run(cleanup())


def test_health_shows_requests_per_class(api_client, viewer, budget_in_use) -> None:
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/health").json()
    broker = next(c for c in body["components"] if c["component"] == "broker")
    budget = broker["details"]["request_budget"]
    rows = {row["class"]: row for row in budget["classes"]}
    assert [row["class"] for row in budget["classes"]] == [
        "order", "order_status", "scan", "quote", "chart",
    ]  # fmt: skip
    assert rows["order"]["requests_last_minute"] == 1
    assert rows["chart"]["requests_last_minute"] == 2
    assert (rows["scan"]["waiting"], rows["scan"]["requests_last_minute"]) == (1, 0)


def test_system_page_shows_the_budget(viewer_client, budget_in_use) -> None:
    html = viewer_client.get("/").content.decode()
    assert 'id="budget-table"' in html and 'data-class="chart"' in html


def test_memory_backend_has_no_budget(api_client, viewer, settings) -> None:
    settings.BROKER_BACKEND = "memory"
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/health").json()
    broker = next(c for c in body["components"] if c["component"] == "broker")
    assert broker["details"] == {"request_budget": {}}
