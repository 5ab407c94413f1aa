"""Two test suites on different test databases never share a Redis key.

Each run below is a fresh interpreter on the test settings with only TEST_DATABASE_NAME differing. It
writes through every kind of key the project uses — a Celery message and its queue binding, a Celery
result, a Channels group, the conditions check lock — lists the keys that appeared on Redis, and deletes
them again. The Kiwoom client's keys are all built under `KiwoomConfig.key_prefix` (its own tests cover
that), so the run reports the prefix the settings hand it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from django.conf import settings

from apps.core.rediskeys import redis_key
from stockagent.settings_test import suite_database_name

RUN = r"""
import json, sys, uuid

import django

django.setup()

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from apps.broker.backends import kiwoom_config_from_settings
from apps.conditions import tasks
from stockagent.celery import app

marker = uuid.uuid4().hex
client = redis.Redis.from_url(settings.REDIS_URL)
before = set(client.keys("*"))
try:
    app.send_task("core.echo", args=[1], queue=f"keyspace-{marker}")
    app.backend.store_result(f"keyspace-{marker}", 1, "SUCCESS")
    async_to_sync(get_channel_layer().group_add)(f"keyspace-{marker}", "keyspace.one!x")
    lock = client.lock(tasks.LOCK_KEY, timeout=30)
    assert lock.acquire(blocking=False), "the check lock is taken"
finally:
    created = set(client.keys("*")) - before
    if created:
        client.delete(*created)
print(json.dumps({
    "prefix": settings.REDIS_KEY_PREFIX,
    "kiwoom": kiwoom_config_from_settings().key_prefix,
    "keys": sorted(k.decode() for k in created),
}))
"""


def _run(database_name: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_KEY_PREFIX"}
    env.update(
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        TEST_DATABASE_NAME=database_name,
        REDIS_URL=settings.REDIS_URL,
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_test_databases_use_disjoint_redis_key_spaces() -> None:
    tag = uuid.uuid4().hex[:8]
    first, second = f"test_keys_{tag}_a", f"test_keys_{tag}_b"
    runs = {name: _run(name) for name in (first, second)}
    for name, run in runs.items():
        prefix = f"{name}:"
        assert run["prefix"] == prefix
        assert run["kiwoom"] == f"{prefix}stockagent:kiwoom"
        keys = run["keys"]
        # queue, queue binding, task result, channel group, check lock
        assert len(keys) >= 5, keys
        assert f"{prefix}stockagent:conditions:check" in keys
        assert any(k.startswith(f"{prefix}asgi") for k in keys), keys
        assert any(k.startswith(f"{prefix}celery-task-meta-") for k in keys), keys
        unprefixed = [k for k in keys if not k.startswith(prefix)]
        assert unprefixed == [], f"keys outside {prefix!r}: {unprefixed}"
    assert not set(runs[first]["keys"]) & set(runs[second]["keys"])


def test_every_key_builder_reads_the_one_prefix() -> None:
    prefix = settings.REDIS_KEY_PREFIX
    assert prefix  # the test settings always set one (TEST_DATABASE_NAME + ":" unless given)
    assert redis_key("stockagent", "conditions", "check") == f"{prefix}stockagent:conditions:check"
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] == f"{prefix}asgi"
    for options in (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS,
    ):
        assert options["global_keyprefix"] == prefix


def test_suite_database_name_defaults_like_django() -> None:
    url = "postgres://u@h:5432/stock"
    assert suite_database_name({"DATABASE_URL": url}) == "test_stock"
    assert suite_database_name({"DATABASE_URL": url, "TEST_DATABASE_NAME": "t_x"}) == "t_x"
