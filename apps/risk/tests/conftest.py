from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings

from apps.core.rediskeys import redis_key


def clear_risk_keys() -> None:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = list(client.scan_iter(redis_key("stockagent", "risk", "*")))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(autouse=True)
def _forget_risk_keys() -> Iterator[None]:
    """Liquidation runs, locks and highs live in Redis, which the database rollback does not undo."""
    clear_risk_keys()
    yield
    clear_risk_keys()
