"""A worker killed (SIGKILL) in the middle of sends, then started again under the same node name: the
interrupted Slack send is not repeated (marked 'unknown' in the delivery log), the interrupted email is sent
again with the same Message-ID (the receiver can collapse the repeat)."""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings
from django.db import connection

from apps.notifications.models import Delivery
from apps.notifications.services import notify
from apps.notifications.tests.factories import EmailChannelFactory, SlackChannelFactory
from apps.notifications.tests.fakes import start_worker, stop_worker, wait_until
from stockagent.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def statuses() -> dict[str, str]:
    return dict(Delivery.objects.values_list("channel__kind", "status"))


def test_sends_interrupted_by_a_killed_worker_are_settled_per_channel(fake_http, fake_smtp):
    fake_http.hang = True  # the Slack server takes the request and does not answer
    fake_smtp.hang = True  # the SMTP server takes the message and does not confirm it
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "NOTIFY_HTTP_TIMEOUT_SECONDS": "30",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(fake_smtp.port),
    }
    slack = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    EmailChannelFactory(user=slack.user, target="trader@example.com")
    celery_app.control.purge()

    worker = start_worker(env)
    try:
        notify("risk.halt", title="[리스크] 일일 손실 한도 도달", users=[slack.user])
        assert fake_http.wait_for(1, timeout=60), "the worker never sent to Slack"
        assert wait_until(lambda: len(fake_smtp.messages) >= 1, timeout=60), "no email sent"
        assert statuses() == {"slack": "sending", "email": "sending"}
        os.killpg(worker.pid, signal.SIGKILL)  # mid-send, both requests in flight
        worker.wait(10)
    finally:
        if worker.poll() is None:
            stop_worker(worker)

    fake_smtp.hang = False
    restarted = start_worker(env)  # the same node name: it settles its previous life's sends
    try:
        assert wait_until(
            lambda: statuses() == {"slack": "unknown", "email": "sent"}, timeout=90
        ), statuses()
    finally:
        print(stop_worker(restarted))
    fake_http.release.set()

    assert len(fake_http.requests) == 1  # Slack: never twice
    assert len(fake_smtp.messages) == 2  # email: again, as the same message
    first, again = (m["Message-ID"] for m in fake_smtp.messages)
    assert first == again
    slack_delivery = Delivery.objects.get(channel__kind="slack")
    assert "not re-sent" in slack_delivery.last_error and slack_delivery.attempts == 1
