"""Through a real Celery worker and Redis: a channel whose server hangs does not delay another channel's
delivery of the same notification, and the hanging one completes once its server answers."""

from __future__ import annotations

import pytest

from apps.notifications.models import Delivery
from apps.notifications.services import notify
from apps.notifications.tests.factories import SlackChannelFactory, TelegramChannelFactory
from apps.notifications.tests.fakes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_hanging_slack_does_not_delay_telegram_through_a_real_worker(
    worker, fake_http, fake_http2, settings
):
    fake_http.hang = True
    user = SlackChannelFactory(secret=f"{fake_http.url}/hook").user
    TelegramChannelFactory(user=user)

    notify("condition.entry", title="[조건 편입] 급등주 · 삼성전자(005930)", users=[user])

    # Slack's request is held open by its server (30 s timeout); Telegram's still arrives.
    assert fake_http.wait_for(1, timeout=60), "worker never sent to Slack"
    assert fake_http2.wait_for(1, timeout=60), "Telegram was blocked by the hanging Slack call"
    assert Delivery.objects.get(channel__kind="slack").status == "sending"
    fake_http.release.set()
    assert wait_until(
        lambda: set(Delivery.objects.values_list("status", flat=True)) == {"sent"}, timeout=60
    )
