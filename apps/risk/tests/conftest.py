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


@pytest.fixture(autouse=True)
def _permissive_risk_for_exits(request) -> None:
    """The exit and liquidation tests open many positions of any size first: the engine's entry limits
    are not what they test (the risk engine's own tests keep the seeded defaults)."""
    name = request.module.__name__
    if not any(word in name for word in ("exits", "liquidation", "flatten")):
        return
    if not {"db", "transactional_db"} & set(
        request.fixturenames
    ) and not request.node.get_closest_marker("django_db"):
        return
    request.getfixturevalue("db")
    from apps.risk.testing import permissive_config

    permissive_config()
