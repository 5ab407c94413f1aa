"""notify() rules and delivery sending: dedup, throttling into one digest, quiet hours, retries with backoff,
a failing channel not blocking the others, the claim, secrets kept out of logs and errors."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connections
from hypothesis import given
from hypothesis import strategies as st

from apps.notifications import tasks
from apps.notifications.models import Delivery, Notification
from apps.notifications.services import (
    NotifyError,
    delivery_claim,
    delivery_send,
    notify,
    retry_delay,
)
from apps.notifications.tests.factories import (
    ChannelFactory,
    DeliveryFactory,
    EmailChannelFactory,
    NotificationFactory,
    SlackChannelFactory,
    TelegramChannelFactory,
)

pytestmark = pytest.mark.usefixtures("eager", "fast_settings")

# 10:00 KST on a Monday.
T0 = datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC)


def in_thread(fn: Callable[..., Any]) -> Callable[..., None]:
    """Run ``fn`` in a thread with its own database connection, closed at the end."""

    def run(*args: Any) -> None:
        try:
            fn(*args)
        finally:
            connections.close_all()

    return run


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_unknown_kind_is_refused_and_writes_nothing():
    with pytest.raises(NotifyError):
        notify("condition.enter", title="x")
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_same_dedup_key_within_window_makes_one_notification(
    clock, fake_http, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        first = notify("condition.entry", title="편입 A", dedup_key="cond:1:005930:entry")
        clock.shift(timedelta(seconds=120))
        second = notify("condition.entry", title="편입 A", dedup_key="cond:1:005930:entry")
        other = notify("condition.entry", title="편입 B", dedup_key="cond:1:000660:entry")
    assert first is not None and second is None and other is not None
    assert Delivery.objects.filter(channel=channel).count() == 2
    assert len(fake_http.requests) == 2

    clock.shift(timedelta(seconds=301))
    with django_capture_on_commit_callbacks(execute=True):
        again = notify("condition.entry", title="편입 A", dedup_key="cond:1:005930:entry")
    assert again is not None
    assert len(fake_http.requests) == 3


@pytest.mark.django_db
def test_burst_of_50_becomes_one_digest(clock, fake_http, django_capture_on_commit_callbacks):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(50):
            notify(
                "condition.entry", title=f"[조건 편입] 급등주 · 종목{i:02d}", users=[channel.user]
            )

    # NOTIFY_THROTTLE_MAX (5) go out at once; the other 45 wait in one digest.
    assert len(fake_http.requests) == 5
    digests = Delivery.objects.filter(channel=channel, is_digest=True)
    assert digests.count() == 1
    digest = digests.get()
    assert digest.members.count() == 45
    assert set(digest.members.values_list("status", flat=True)) == {"batched"}

    clock.shift(timedelta(seconds=5))
    tasks.dispatch_due()  # the beat sweep: not due yet
    assert len(fake_http.requests) == 5

    clock.shift(timedelta(seconds=6))
    tasks.dispatch_due()
    assert len(fake_http.requests) == 6
    text = fake_http.requests[-1].body["text"]
    assert text.startswith("*알림 요약 45건")
    assert "종목05" in text and "종목49" in text
    digest.refresh_from_db()
    assert digest.status == "sent"
    assert set(digest.members.values_list("status", flat=True)) == {"digested"}


@pytest.mark.django_db
def test_min_interval_batches_until_the_interval_is_over(
    clock, fake_http, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook", min_interval_seconds=120)
    with django_capture_on_commit_callbacks(execute=True):
        notify("order.fill", title="체결 1", users=[channel.user])
        clock.shift(timedelta(seconds=30))
        notify("order.fill", title="체결 2", users=[channel.user])
        notify("order.fill", title="체결 3", users=[channel.user])
    assert len(fake_http.requests) == 1

    clock.shift(timedelta(seconds=89))
    tasks.dispatch_due()
    assert len(fake_http.requests) == 1
    clock.shift(timedelta(seconds=2))
    tasks.dispatch_due()
    assert len(fake_http.requests) == 2
    assert "알림 요약 2건" in fake_http.requests[1].body["text"]


@pytest.mark.django_db
def test_quiet_hours_hold_messages_and_send_one_digest_when_they_end(
    fake_http, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(
        secret=f"{fake_http.url}/hook", quiet_start=time(22, 0), quiet_end=time(7, 0)
    )
    night = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 23:30 KST
    with time_machine.travel(night, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(3):
                notify("risk.halt", title=f"야간 알림 {i}", users=[channel.user])
                clock.shift(timedelta(hours=1))
        assert fake_http.requests == []
        digest = Delivery.objects.get(channel=channel, is_digest=True)
        assert digest.hold_reason == "quiet"
        assert digest.send_after == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 07:00 KST

        clock.move_to(datetime(2026, 11, 23, 21, 59, tzinfo=UTC))
        tasks.dispatch_due()
        assert fake_http.requests == []
        clock.move_to(datetime(2026, 11, 23, 22, 0, 1, tzinfo=UTC))
        tasks.dispatch_due()

    assert len(fake_http.requests) == 1
    text = fake_http.requests[0].body["text"]
    assert "알림 요약 3건" in text and "방해 금지 시간" in text
    assert "야간 알림 0" in text and "야간 알림 2" in text


@pytest.mark.django_db
def test_quiet_hours_window_rules():
    same_day = ChannelFactory.build(quiet_start=time(12, 0), quiet_end=time(13, 0))
    assert same_day.in_quiet_hours(datetime(2026, 11, 23, 3, 30, tzinfo=UTC))  # 12:30 KST
    assert not same_day.in_quiet_hours(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))  # 13:00 KST
    wraps = ChannelFactory.build(quiet_start=time(22, 0), quiet_end=time(7, 0))
    assert wraps.in_quiet_hours(datetime(2026, 11, 23, 20, 0, tzinfo=UTC))  # 05:00 KST
    assert not wraps.in_quiet_hours(T0)  # 10:00 KST


@pytest.mark.django_db
def test_failing_channel_is_retried_with_backoff_and_does_not_block_the_other(
    clock, fake_http, fake_http2, settings, caplog, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = fake_http2.url
    fake_http.status = 500
    user = SlackChannelFactory(secret=f"{fake_http.url}/hook").user
    TelegramChannelFactory(user=user)

    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        notify("order.fill", title="[체결] 삼성전자", users=[user])

    slack = Delivery.objects.get(channel__kind="slack")
    telegram = Delivery.objects.get(channel__kind="telegram")
    assert (telegram.status, telegram.attempts) == ("sent", 1)
    assert (slack.status, slack.attempts, slack.last_error) == ("pending", 1, "HTTP 500")
    assert T0 + timedelta(seconds=0.5) <= slack.send_after <= T0 + timedelta(seconds=1)
    assert f"delivery {slack.pk}" in caplog.text and "attempt 1/3" in caplog.text

    clock.shift(timedelta(seconds=1))
    tasks.dispatch_due()
    slack.refresh_from_db()
    assert (slack.status, slack.attempts) == ("pending", 2)
    assert slack.send_after - T0 - timedelta(seconds=1) <= timedelta(seconds=2)

    clock.shift(timedelta(seconds=2))
    tasks.dispatch_due()
    slack.refresh_from_db()
    assert (slack.status, slack.attempts, slack.last_error) == ("failed", 3, "HTTP 500")
    assert len(fake_http.requests) == 3
    assert len(fake_http2.requests) == 1


@pytest.mark.django_db
def test_client_error_is_not_retried(fake_http, django_capture_on_commit_callbacks):
    fake_http.status = 404
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        notify("system", title="점검", users=[channel.user])
    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, "HTTP 404")


@pytest.mark.django_db(transaction=True)
def test_hanging_channel_does_not_delay_another_delivery(fake_http, fake_http2, settings):
    """Two deliveries sent concurrently (as two worker slots would): the healthy channel's delivery completes
    while the other channel's server is still holding its request."""
    settings.TELEGRAM_API_BASE = fake_http2.url
    fake_http.hang = True
    user = SlackChannelFactory(secret=f"{fake_http.url}/hook").user
    TelegramChannelFactory(user=user)
    now = datetime.now(tz=UTC)
    notification = NotificationFactory(kind="order.fill", title="[체결] 삼성전자")
    slack, telegram = (
        DeliveryFactory(channel=c, notification=notification, status="pending", send_after=now)
        for c in user.notification_channels.order_by("kind")
    )

    slow = threading.Thread(target=in_thread(delivery_send), args=(slack.pk,))
    slow.start()
    assert fake_http.wait_for(1)  # the Slack request is in flight and hangs
    assert delivery_send(telegram.pk).status == "sent"
    slack.refresh_from_db()
    assert slack.status == "sending"  # still waiting on the hanging server
    fake_http.release.set()
    slow.join(10)
    slack.refresh_from_db()
    assert slack.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_delivery(fake_http):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    now = datetime.now(tz=UTC)
    delivery = DeliveryFactory(channel=channel, status="pending", send_after=now)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker() -> None:
        barrier.wait()
        outcomes.append(delivery_send(delivery.pk).status)

    threads = [threading.Thread(target=in_thread(worker)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped"]
    assert len(fake_http.requests) == 1
    assert delivery_claim(delivery.pk, now) is False


@pytest.mark.django_db
def test_secrets_never_reach_logs_or_the_delivery_log(
    fake_http, settings, caplog, django_capture_on_commit_callbacks
):
    hook_secret = "T0SECRET/B0SECRET/hooksecretvalue123"
    bot_token = "555555:AAH-bot-token-never-logged-xyz"
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused
    fake_http.status = 500
    user = SlackChannelFactory(secret=f"{fake_http.url}/services/{hook_secret}").user
    TelegramChannelFactory(user=user, secret=bot_token)

    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        notify("risk.halt", title="손실 한도", users=[user])

    errors = list(Delivery.objects.values_list("last_error", flat=True))
    assert sorted(errors) == ["HTTP 500", "network error"]
    for secret in (hook_secret, bot_token, "AAH-bot-token"):
        assert secret not in caplog.text
        assert all(secret not in e for e in errors)


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=2**32))
def test_retry_delay_grows_exponentially_with_jitter_and_is_capped(attempts, seed):
    from django.conf import settings

    delay = retry_delay(attempts, random.Random(seed))
    expected = min(
        settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.NOTIFY_RETRY_MAX_SECONDS
    )
    assert expected / 2 <= delay <= expected


@pytest.mark.django_db
def test_delivery_left_sending_by_a_dead_worker_is_settled_once_stale(clock, fake_http, fake_smtp):
    """Email (a Message-ID the receiver dedupes on) is sent again; Slack (no such key) is left
    'unknown', never sent twice."""
    slack = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    email = EmailChannelFactory(user=slack.user)
    lost_mail = DeliveryFactory(channel=email, status="sending", attempts=1, claimed_at=T0)
    dead_mail = DeliveryFactory(channel=email, status="sending", attempts=3, claimed_at=T0)
    lost_slack = DeliveryFactory(channel=slack, status="sending", attempts=1, claimed_at=T0)
    fresh = DeliveryFactory(
        channel=slack, status="sending", attempts=1, claimed_at=T0 + timedelta(seconds=250)
    )

    clock.shift(timedelta(seconds=301))
    tasks.dispatch_due()

    for d in (lost_mail, dead_mail, lost_slack, fresh):
        d.refresh_from_db()
    assert (lost_mail.status, lost_mail.attempts) == ("sent", 2)
    assert (dead_mail.status, dead_mail.last_error) == ("failed", "작업자 중단 (worker lost)")
    assert lost_slack.status == "unknown" and "not re-sent" in lost_slack.last_error
    assert fresh.status == "sending"
    assert len(fake_http.requests) == 0 and len(fake_smtp.messages) == 1
    assert fake_smtp.messages[0]["Message-ID"].startswith(f"<delivery-{lost_mail.pk}.")


@pytest.mark.django_db
def test_condition_event_helper_dedups_realtime_and_poll_reports(
    clock, fake_http, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from apps.notifications.services import notify_condition_event

    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    event = {
        "entered": True,
        "condition_seq": "3",
        "condition_name": "거래대금 상위",
        "stock_name": "SK하이닉스",
        "code": "000660",
        "price": 182500,
        "change_rate": Decimal("4.1"),
        "at": T0,
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = notify_condition_event(**event)  # realtime saw it
        second = notify_condition_event(**event)  # then the 30-second poll
    assert first is not None and second is None
    assert first.kind == "condition.entry" and first.data["code"] == "000660"
    assert [r.body["text"].splitlines()[0] for r in fake_http.requests] == [
        "*[조건 편입] 거래대금 상위 · SK하이닉스(000660)*"
    ]
    assert Delivery.objects.filter(channel=channel).count() == 1


@pytest.mark.django_db
def test_unreachable_webhook_url_fails_without_leaking_it(
    caplog, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(secret="ftp://hooks.example.test/secret-path-999")
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        notify("system", title="점검", users=[channel.user])
    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.last_error) == ("failed", "invalid URL scheme")
    assert "secret-path-999" not in caplog.text


@pytest.mark.django_db
def test_a_failing_channel_backs_off_as_a_whole(
    clock, fake_http, django_capture_on_commit_callbacks
):
    fake_http.status = 503
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            notify("order.fill", title=f"체결 {i}", users=[channel.user])

    # One request hit the dead endpoint; the two queued behind it wait for the same retry time.
    assert len(fake_http.requests) == 1
    rows = list(Delivery.objects.filter(channel=channel).order_by("pk"))
    assert [(d.status, d.attempts) for d in rows] == [
        ("pending", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    assert rows[1].send_after == rows[0].send_after
    assert rows[1].last_error == "채널 재시도 대기 (channel backing off)"

    fake_http.status = 200
    clock.shift(timedelta(seconds=2))
    tasks.dispatch_due()
    assert [d.status for d in Delivery.objects.filter(channel=channel)] == ["sent"] * 3
    assert len(fake_http.requests) == 4


@pytest.mark.django_db(transaction=True)
async def test_anotify_from_async_code_reaches_the_channel(fake_http):
    from asgiref.sync import sync_to_async

    from apps.notifications.services import anotify

    channel = await sync_to_async(SlackChannelFactory)(secret=f"{fake_http.url}/hook")
    notification = await anotify(
        "condition.entry", title="[조건 편입] 실시간", users=[channel.user_id]
    )
    assert notification is not None
    assert fake_http.wait_for(1)  # sent on commit (eager task) from the sync thread
    assert fake_http.requests[0].body["text"] == "*[조건 편입] 실시간*"
    await sync_to_async(connections.close_all)()  # the sync thread's connection, before DB teardown


@pytest.mark.django_db
def test_a_send_whose_reply_never_came_is_unknown_not_retried(fake_http, settings):
    """Slack got the request and did not answer in time: it may have posted, so no second request."""
    settings.NOTIFY_HTTP_TIMEOUT_SECONDS = 0.3
    fake_http.hang = True
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    delivery = DeliveryFactory(channel=channel, status="pending", send_after=datetime.now(tz=UTC))

    assert delivery_send(delivery.pk).status == "unknown"
    delivery.refresh_from_db()
    assert delivery.status == "unknown" and delivery.last_error.startswith(
        "network error (no reply)"
    )
    fake_http.release.set()
    assert len(fake_http.requests) == 1


@pytest.mark.django_db
def test_a_send_that_never_connected_is_retried(settings):
    channel = SlackChannelFactory(secret="http://127.0.0.1:9/hook")  # nothing listens on port 9
    delivery = DeliveryFactory(channel=channel, status="pending", send_after=datetime.now(tz=UTC))
    assert delivery_send(delivery.pk).status == "retry"
