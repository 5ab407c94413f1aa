from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings

from apps.broker.backends import get_broker, reset_broker
from apps.broker.backends.memory import MemoryBroker
from apps.core.rediskeys import redis_key


@pytest.fixture
def memory_broker(settings) -> Iterator[MemoryBroker]:
    settings.BROKER_BACKEND = "memory"
    reset_broker()
    broker = get_broker()
    assert isinstance(broker, MemoryBroker)
    yield broker
    reset_broker()


@pytest.fixture
def eager() -> Iterator[None]:
    """The orders queue runs its task at once, in this process."""
    from stockagent.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.fixture(autouse=True)
def _forget_manual_keys() -> Iterator[None]:
    # The amend/cancel idempotency keys live in Redis, which the database rollback does not undo.
    yield
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = list(client.scan_iter(redis_key("stockagent", "trades", "manual", "*")))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(autouse=True)
def _permissive_risk(request) -> None:
    """These tests trade sizes the seed's risk limits refuse: a wide configuration first (the risk
    engine's own tests live in apps/risk/tests)."""
    if not {"db", "transactional_db"} & set(
        request.fixturenames
    ) and not request.node.get_closest_marker("django_db"):
        return
    request.getfixturevalue("db")
    from apps.risk.testing import permissive_config

    permissive_config()
