from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings

from apps.core.rediskeys import redis_key


def clear_scan_keys() -> None:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = list(client.scan_iter(redis_key("stockagent", "strategy", "*")))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(autouse=True)
def _forget_scan_claims() -> Iterator[None]:
    """The scanner's once-per-slot claims live in Redis, which the database rollback does not undo."""
    clear_scan_keys()
    yield
    clear_scan_keys()


@pytest.fixture(autouse=True)
def _fresh_strategy_cache() -> Iterator[None]:
    """Active settings are cached per version in the process; a rolled-back database reuses versions."""
    from apps.strategy.selectors import forget_cache

    forget_cache()
    yield
    forget_cache()
