"""Condition alerts reported in batches (notify_condition_events): one message per channel for a burst,
per-alert dedup, the single-alert format unchanged, prices not known yet, mixed entry/exit titles, and the
channel throttle still capping separate batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.db import connections

from apps.notifications import tasks
from apps.notifications.formatting import format_condition_batch, format_condition_event
from apps.notifications.models import Delivery, Notification
from apps.notifications.services import (
    ConditionAlert,
    anotify_condition_events,
    notify,
    notify_condition_event,
    notify_condition_events,
)
from apps.notifications.tests.factories import ChannelFactory, SlackChannelFactory

pytestmark = pytest.mark.usefixtures("eager", "fast_settings")

T0 = datetime(2026, 11, 23, 0, 12, 5, tzinfo=UTC)  # 09:12:05 KST, a Monday


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def alert(i: int = 0, **overrides) -> ConditionAlert:
    fields = {
        "entered": True,
        "condition_seq": "3",
        "condition_name": "급등주",
        "code": f"{100000 + i:06d}",
        "stock_name": f"종목{i:02d}",
        "price": 10000 + i * 100,
        "change_rate": Decimal("3.25"),
        "at": T0,
    }
    return ConditionAlert(**(fields | overrides))


def slack_texts(fake_http) -> list[str]:
    return [r.body["text"] for r in fake_http.requests]


@pytest.mark.django_db
def test_a_batch_of_50_entries_is_one_notification_and_one_message_per_channel(
    clock, fake_http, fake_http2, django_capture_on_commit_callbacks
):
    slack = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    other = SlackChannelFactory(user=slack.user, secret=f"{fake_http2.url}/hook")
    console = ChannelFactory(user=slack.user)
    with django_capture_on_commit_callbacks(execute=True):
        notification = notify_condition_events([alert(i) for i in range(50)])

    assert notification is not None and Notification.objects.count() == 1
    assert notification.kind == "condition.entry"
    assert notification.title == "[조건검색] 급등주 편입 50종목"
    for channel in (slack, other, console):
        (delivery,) = Delivery.objects.filter(channel=channel)
        assert (delivery.notification_id, delivery.is_digest, delivery.status) == (
            notification.pk,
            False,
            "sent",
        )
    assert len(fake_http.requests) == 1 and len(fake_http2.requests) == 1

    (text,) = slack_texts(fake_http)
    lines = text.splitlines()
    assert lines[0] == "*[조건검색] 급등주 편입 50종목*"
    assert len(lines) == 1 + 50
    assert lines[1] == "• 편입 종목00(100000) 10,000원 (+3.25%) 09:12:05"
    assert lines[-1] == "• 편입 종목49(100049) 14,900원 (+3.25%) 09:12:05"

    data = notification.data
    assert (data["count"], data["entries"], data["exits"]) == (50, 50, 0)
    assert data["alerts"][0] == {
        "entered": True,
        "condition_seq": "3",
        "condition_name": "급등주",
        "code": "100000",
        "name": "종목00",
        "price": 10000,
        "change_rate": "3.25",
        "at": T0.isoformat(),
    }
    assert [a["code"] for a in data["alerts"]] == [f"{100000 + i:06d}" for i in range(50)]


@pytest.mark.django_db
def test_batch_body_is_capped_with_a_remainder_line(clock, settings, fake_http):
    settings.NOTIFY_DIGEST_MAX_LINES = 10
    SlackChannelFactory(secret=f"{fake_http.url}/hook")
    notification = notify_condition_events([alert(i) for i in range(50)])
    assert notification is not None
    lines = notification.body.splitlines()
    assert len(lines) == 11
    assert lines[-1] == "… 외 40종목"
    assert len(notification.data["alerts"]) == 50  # data keeps every alert


@pytest.mark.django_db
def test_alerts_already_notified_are_dropped_from_the_batch(
    clock, fake_http, django_capture_on_commit_callbacks
):
    SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        single = notify_condition_event(  # the realtime path saw 종목01 first
            entered=True,
            condition_seq="3",
            condition_name="급등주",
            stock_name="종목01",
            code="100001",
            price=10100,
            change_rate=Decimal("3.25"),
            at=T0 + timedelta(seconds=20),  # same KST minute as the poll's report
        )
        clock.shift(timedelta(seconds=30))
        batch = notify_condition_events([alert(i) for i in range(4)])  # then the poll: 00..03
    assert single is not None and batch is not None
    assert batch.title == "[조건검색] 급등주 편입 3종목"
    assert [a["code"] for a in batch.data["alerts"]] == ["100000", "100002", "100003"]
    assert "종목01" not in batch.body
    assert len(fake_http.requests) == 2

    # The whole batch again inside the dedup window: nothing left, nothing written.
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_condition_events([alert(i) for i in range(4)]) is None
    assert Notification.objects.count() == 2
    assert len(fake_http.requests) == 2


@pytest.mark.django_db
def test_an_alert_repeated_inside_one_batch_counts_once(clock):
    ChannelFactory()
    notification = notify_condition_events([alert(1), alert(2), alert(1)])
    assert notification is not None
    assert [a["code"] for a in notification.data["alerts"]] == ["100001", "100002"]


@pytest.mark.django_db
def test_a_batch_of_one_is_the_single_alert_notification(clock):
    ChannelFactory()
    one = alert(7, price=182500, change_rate=Decimal("4.1"), stock_name="SK하이닉스", code="000660")
    batch = notify_condition_events([one])
    assert batch is not None
    clock.shift(
        timedelta(seconds=301)
    )  # past the dedup window: the single helper may raise it again
    single = notify_condition_event(
        entered=True,
        condition_seq="3",
        condition_name="급등주",
        stock_name="SK하이닉스",
        code="000660",
        price=182500,
        change_rate=Decimal("4.1"),
        at=T0,
    )
    assert single is not None
    fields = ("kind", "title", "body", "data", "dedup_key")
    assert [getattr(batch, f) for f in fields] == [getattr(single, f) for f in fields]
    assert batch.title == "[조건 편입] 급등주 · SK하이닉스(000660)"
    assert batch.dedup_key == "condition.entry:3:000660:202611230912"
    assert "현재가 182,500원 (+4.10%)" in batch.body


@pytest.mark.django_db
def test_empty_batch_writes_nothing():
    assert notify_condition_events([]) is None
    assert not Notification.objects.exists()


def test_unknown_price_and_rate_format_cleanly():
    title, body = format_condition_event(
        entered=True,
        condition_name="급등주",
        stock_name="삼성전자",
        code="005930",
        price=None,
        change_rate=None,
        at=T0,
    )
    assert body.splitlines()[1] == "현재가 확인 전"
    assert "None" not in title + body
    _, no_rate = format_condition_event(
        entered=False,
        condition_name="급등주",
        stock_name="삼성전자",
        code="005930",
        price=71500,
        change_rate=None,
        at=T0,
    )
    assert no_rate.splitlines()[1] == "현재가 71,500원"

    _, batch_body = format_condition_batch(
        [alert(0, price=None, change_rate=None), alert(1, change_rate=None), alert(2)], 60
    )
    assert batch_body.splitlines() == [
        "• 편입 종목00(100000) 현재가 확인 전 09:12:05",
        "• 편입 종목01(100001) 10,100원 09:12:05",
        "• 편입 종목02(100002) 10,200원 (+3.25%) 09:12:05",
    ]
    assert "None" not in batch_body


@pytest.mark.django_db
def test_unknown_price_is_stored_as_null_not_the_string_none(clock):
    ChannelFactory()
    notification = notify_condition_events([alert(0, price=None, change_rate=None), alert(1)])
    assert notification is not None
    first = notification.data["alerts"][0]
    assert (first["price"], first["change_rate"]) == (None, None)
    assert "None" not in notification.title + notification.body


def test_alert_requires_aware_time_and_integer_price():
    with pytest.raises(ValueError):
        alert(at=datetime(2026, 11, 23, 9, 0))  # naive on purpose
    with pytest.raises(TypeError):
        alert(price=71500.0)


@pytest.mark.django_db
def test_mixed_entries_and_exits_are_summarised_in_the_title(clock):
    ChannelFactory()
    batch = [alert(i) for i in range(48)] + [alert(90 + i, entered=False) for i in range(2)]
    notification = notify_condition_events(
        batch[::-1]
    )  # exits first in: entries still listed first
    assert notification is not None
    assert notification.kind == "condition.entry"
    assert notification.title == "[조건검색] 급등주 편입 48종목 · 이탈 2종목"
    lines = notification.body.splitlines()
    assert len(lines) == 50
    assert all(line.startswith("• 편입") for line in lines[:48])
    assert all(line.startswith("• 이탈") for line in lines[48:])

    exits_only = notify_condition_events([alert(i, entered=False) for i in range(3)])
    assert exits_only is not None
    assert (exits_only.kind, exits_only.title) == ("condition.exit", "[조건검색] 급등주 이탈 3종목")


@pytest.mark.django_db
def test_a_batch_spanning_conditions_has_one_part_per_condition(clock):
    ChannelFactory()
    notification = notify_condition_events(
        [
            alert(1),
            alert(2, condition_seq="5", condition_name="거래대금 상위"),
            alert(3, entered=False),
        ]
    )
    assert notification is not None
    assert (
        notification.title == "[조건검색] 급등주 편입 1종목 · 이탈 1종목 / 거래대금 상위 편입 1종목"
    )
    assert (
        notification.body.splitlines()[1]
        == "• 이탈 [급등주] 종목03(100003) 10,300원 (+3.25%) 09:12:05"
    )
    assert notification.body.splitlines()[2].startswith("• 편입 [거래대금 상위] 종목02")


@pytest.mark.django_db
def test_channel_subscribed_to_one_kind_gets_only_those_alerts_of_a_mixed_batch(clock):
    both = ChannelFactory()
    exits = ChannelFactory(event_kinds=["condition.exit"])
    entries = ChannelFactory(event_kinds=["condition.entry"])
    ChannelFactory(event_kinds=["order.fill"])
    batch = [alert(i) for i in range(3)] + [alert(9, entered=False)]
    notification = notify_condition_events(batch)
    assert notification is not None
    assert Delivery.objects.get(channel=both).notification == notification
    only_exit = Delivery.objects.get(channel=exits).notification
    assert only_exit.kind == "condition.exit"
    assert (
        only_exit.title == "[조건 이탈] 급등주 · 종목09(100009)"
    )  # a single alert: the single format
    only_entries = Delivery.objects.get(channel=entries).notification
    assert only_entries.title == "[조건검색] 급등주 편입 3종목"
    assert Delivery.objects.count() == 3


@pytest.mark.django_db
def test_the_channel_throttle_still_caps_separate_batches(
    clock, fake_http, django_capture_on_commit_callbacks
):
    """Each batch is one message; the sixth message within the throttle window joins a digest."""
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        for cycle in range(7):  # seven poll cycles, ten alerts each, a few seconds apart
            clock.shift(timedelta(seconds=3))
            notify_condition_events([alert(cycle * 10 + i) for i in range(10)])
    assert Notification.objects.count() == 7
    assert len(fake_http.requests) == 5  # NOTIFY_THROTTLE_MAX
    digest = Delivery.objects.get(channel=channel, is_digest=True)
    assert digest.members.count() == 2

    clock.shift(timedelta(seconds=11))
    tasks.dispatch_due()
    assert len(fake_http.requests) == 6
    text = slack_texts(fake_http)[-1]
    assert text.startswith("*알림 요약 2건")
    assert text.count("[조건검색] 급등주 편입 10종목") == 2


@pytest.mark.django_db
def test_a_batch_joins_an_open_digest_as_one_line(
    clock, fake_http, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(6):
            notify("order.fill", title=f"체결 {i}", users=[channel.user])
        notify_condition_events([alert(i) for i in range(50)], users=[channel.user])
    digest = Delivery.objects.get(channel=channel, is_digest=True)
    assert digest.members.count() == 2  # 체결 5 and the whole batch
    assert len(fake_http.requests) == 5


@pytest.mark.django_db(transaction=True)
async def test_anotify_condition_events_from_async_code(fake_http):
    channel = await sync_to_async(SlackChannelFactory)(secret=f"{fake_http.url}/hook")
    now = datetime.now(tz=UTC)
    notification = await anotify_condition_events(
        [alert(i, at=now) for i in range(20)], users=[channel.user_id]
    )
    assert notification is not None
    assert fake_http.wait_for(1)
    assert fake_http.requests[0].body["text"].startswith("*[조건검색] 급등주 편입 20종목*")
    await sync_to_async(connections.close_all)()
