"""Each channel end to end (notify → after commit → task → backend) against a local fake server over real
sockets: Slack's incoming webhook and Telegram's bot API on a fake HTTP server, email on a fake SMTP server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.notifications.formatting import format_condition_event
from apps.notifications.models import Delivery
from apps.notifications.services import notify
from apps.notifications.tests.factories import (
    ChannelFactory,
    EmailChannelFactory,
    SlackChannelFactory,
    TelegramChannelFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "fast_settings")]

AT = datetime(2026, 11, 23, 0, 12, 5, tzinfo=UTC)  # 09:12:05 KST


def entry_message() -> tuple[str, str]:
    return format_condition_event(
        entered=True,
        condition_name="급등주포착",
        stock_name="삼성전자",
        code="005930",
        price=71500,
        change_rate=Decimal("3.25"),
        at=AT,
    )


def test_condition_message_is_korean_with_price_change_and_kst_time():
    title, body = entry_message()
    assert title == "[조건 편입] 급등주포착 · 삼성전자(005930)"
    assert "현재가 71,500원 (+3.25%)" in body
    assert "2026-11-23 09:12:05 KST" in body
    _, exit_body = format_condition_event(
        entered=False,
        condition_name="급등주포착",
        stock_name="삼성전자",
        code="005930",
        price=69000,
        change_rate=Decimal("-1.5"),
        at=AT,
    )
    assert "69,000원 (-1.50%)" in exit_body


def test_slack_webhook_receives_the_message(fake_http, django_capture_on_commit_callbacks):
    url = f"{fake_http.url}/services/T1/B1/secret-part"
    channel = SlackChannelFactory(secret=url)
    title, body = entry_message()

    with django_capture_on_commit_callbacks(execute=True):
        notify("condition.entry", title=title, body=body, users=[channel.user])

    assert len(fake_http.requests) == 1
    request = fake_http.requests[0]
    assert request.path == "/services/T1/B1/secret-part"
    assert "삼성전자(005930)" in request.body["text"]
    assert "71,500원 (+3.25%)" in request.body["text"]
    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    assert delivery.sent_at is not None


def test_telegram_bot_api_receives_send_message(
    fake_http, settings, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = fake_http.url
    channel = TelegramChannelFactory(target="-1001234", secret="987654:AAE-bot-token-abcdefghij")
    title, body = entry_message()

    with django_capture_on_commit_callbacks(execute=True):
        notify("condition.entry", title=title, body=body, users=[channel.user])

    request = fake_http.requests[0]
    assert request.path == "/bot987654:AAE-bot-token-abcdefghij/sendMessage"
    assert request.body["chat_id"] == "-1001234"
    assert request.body["text"].startswith("[조건 편입] 급등주포착")
    assert Delivery.objects.get(channel=channel).status == "sent"


def test_telegram_long_digest_is_cut_to_fit_and_still_sent(
    fake_http, settings, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = fake_http.url
    channel = TelegramChannelFactory()
    lines = [f"• 편입 종목{i:03d}({i:06d}) 12,345원 (+1.23%) 09:12:05" for i in range(200)]
    body = "\n".join(lines)
    assert len(body) > 4096

    with django_capture_on_commit_callbacks(execute=True):
        notify(
            "condition.entry",
            title="[조건검색] 급등주 편입 200종목",
            body=body,
            users=[channel.user],
        )

    text = fake_http.requests[0].body["text"]
    assert len(text) <= 4096
    assert text.startswith("[조건검색] 급등주 편입 200종목\n• 편입 종목000(000000)")
    assert text.endswith("알림 기록에 있습니다)")
    assert lines[-1] not in text and "\n• 편입 종목0" in text  # cut at a line break
    assert Delivery.objects.get(channel=channel).status == "sent"


def test_telegram_ok_false_is_a_permanent_failure(
    fake_http, settings, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = fake_http.url
    fake_http.reply = {"ok": False, "description": "chat not found"}
    channel = TelegramChannelFactory()

    with django_capture_on_commit_callbacks(execute=True):
        notify("system", title="점검", users=[channel.user])

    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "telegram: ok=false"


def test_email_goes_out_over_smtp(fake_smtp, django_capture_on_commit_callbacks):
    channel = EmailChannelFactory(target="trader@example.test")
    title, body = entry_message()

    with django_capture_on_commit_callbacks(execute=True):
        notify("condition.entry", title=title, body=body, users=[channel.user])

    assert len(fake_smtp.messages) == 1
    mail = fake_smtp.messages[0]
    assert mail["To"] == "trader@example.test"
    assert str(mail["Subject"]).strip() == f"[StockAgent] {title}"
    assert "71,500원 (+3.25%)" in mail.get_content()
    assert Delivery.objects.get(channel=channel).status == "sent"


def test_email_refused_recipient_fails_without_retry(fake_smtp, django_capture_on_commit_callbacks):
    channel = EmailChannelFactory(target="nobody@refused.test")

    with django_capture_on_commit_callbacks(execute=True):
        notify("system", title="점검", users=[channel.user])

    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.last_error) == ("failed", "smtp: recipient refused")
    assert fake_smtp.messages == []


def test_console_channel_logs_the_message(caplog, django_capture_on_commit_callbacks):
    channel = ChannelFactory(kind="console")

    with (
        caplog.at_level(logging.INFO, logger="apps.notifications.console"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notify("order.fill", title="[체결] 삼성전자 10주", body="71,500원", users=[channel.user])

    assert "[체결] 삼성전자 10주" in caplog.text
    assert Delivery.objects.get(channel=channel).status == "sent"


def test_channel_only_gets_the_kinds_it_subscribed(fake_http, django_capture_on_commit_callbacks):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook", event_kinds=["risk.halt"])

    with django_capture_on_commit_callbacks(execute=True):
        notify("condition.entry", title="편입", users=[channel.user])
        notify("risk.halt", title="손실 한도 도달", users=[channel.user])

    assert [r.body["text"] for r in fake_http.requests] == ["*손실 한도 도달*"]
