"""Fixtures of the notifications tests: fake Slack/Telegram HTTP servers, a fake SMTP server, eager Celery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from apps.notifications.tests.fakes import FakeHTTPServer, FakeSMTPServer, start_worker, stop_worker
from stockagent.celery import app as celery_app


@pytest.fixture
def fake_http() -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_http2() -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_smtp(settings) -> Iterator[FakeSMTPServer]:
    server = FakeSMTPServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    yield server
    server.stop()


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in-process when queued (after commit). A task queued with a countdown runs at once too:
    the service sees it is not due and leaves it for the sweep, which tests drive with time-machine."""
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


@pytest.fixture
def fast_settings(settings):
    settings.NOTIFY_HTTP_TIMEOUT_SECONDS = 2.0
    settings.NOTIFY_RETRY_BASE_SECONDS = 1.0
    settings.NOTIFY_MAX_ATTEMPTS = 3
    settings.NOTIFY_THROTTLE_MAX = 5
    settings.NOTIFY_THROTTLE_WINDOW_SECONDS = 60
    settings.NOTIFY_DIGEST_DELAY_SECONDS = 10
    settings.NOTIFY_DEDUP_WINDOW_SECONDS = 300
    return settings


@pytest.fixture
def worker(fake_http2):
    """A real Celery worker (threads) on the test database and Redis; Telegram points at fake_http2."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    celery_app.control.purge()  # nothing stale from an earlier run reaches this worker
    proc = start_worker(
        {
            "DATABASE_URL": url,
            "REDIS_URL": settings.REDIS_URL,
            "TELEGRAM_API_BASE": fake_http2.url,
            "NOTIFY_HTTP_TIMEOUT_SECONDS": "30",
        }
    )
    yield proc
    print(stop_worker(proc))
