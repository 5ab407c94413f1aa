"""The settings page: own channels only, a clear form error with nothing saved, the test button, admin list."""

from __future__ import annotations

import pytest

from apps.notifications.models import NotificationChannel
from apps.notifications.tests.factories import SlackChannelFactory, TelegramChannelFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

HOOK = "https://hooks.slack.test/services/T7/B7/page-secret-hook"


def test_page_lists_only_own_channels_without_secrets(viewer_client, viewer, other_user):
    SlackChannelFactory(user=viewer, name="내 채널", secret=HOOK)
    TelegramChannelFactory(user=other_user, name="남의 채널")
    response = viewer_client.get("/notifications/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "내 채널" in html and "남의 채널" not in html
    assert "page-secret-hook" not in html
    assert "테스트 메시지 보내기" in html


def test_add_channel_from_the_page(trader_client, trader):
    response = trader_client.post(
        "/notifications/",
        {
            "new-kind": "slack",
            "new-name": "알림용",
            "new-secret": HOOK,
            "new-enabled": "on",
            "new-event_kinds": ["condition.entry", "condition.exit"],
            "new-quiet_start": "22:00",
            "new-quiet_end": "07:00",
            "new-min_interval_seconds": "0",
        },
    )
    assert response.status_code == 302
    channel = NotificationChannel.objects.get(user=trader)
    assert channel.secret == HOOK
    assert channel.event_kinds == ["condition.entry", "condition.exit"]
    assert str(channel.quiet_start) == "22:00:00"


def test_bad_input_shows_a_clear_error_and_saves_nothing(trader_client):
    response = trader_client.post(
        "/notifications/",
        {"new-kind": "email", "new-target": "not-an-email", "new-min_interval_seconds": "0"},
    )
    assert response.status_code == 400
    assert "올바른 이메일 주소를 입력하세요." in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_edit_keeps_secret_when_left_empty(trader_client, trader):
    channel = SlackChannelFactory(user=trader, secret=HOOK)
    page = trader_client.get(f"/notifications/channels/{channel.pk}/")
    assert "page-secret-hook" not in page.content.decode()
    response = trader_client.post(
        f"/notifications/channels/{channel.pk}/",
        {"kind": "slack", "name": "바뀐 이름", "secret": "", "min_interval_seconds": "30"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.secret, channel.enabled) == ("바뀐 이름", HOOK, False)


def test_cannot_touch_another_users_channel(trader_client, other_user):
    theirs = SlackChannelFactory(user=other_user, secret=HOOK)
    assert trader_client.get(f"/notifications/channels/{theirs.pk}/").status_code == 404
    assert trader_client.post(f"/notifications/channels/{theirs.pk}/delete").status_code == 404
    assert trader_client.post(f"/notifications/channels/{theirs.pk}/test").status_code == 404
    assert NotificationChannel.objects.filter(pk=theirs.pk).exists()


def test_test_button_sends_a_test_message(
    trader_client, trader, fake_http, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(user=trader, secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        response = trader_client.post(f"/notifications/channels/{channel.pk}/test")
    assert response.status_code == 302
    assert len(fake_http.requests) == 1
    assert "테스트 메시지" in fake_http.requests[0].body["text"]
    log = trader_client.get("/notifications/").content.decode()
    assert "테스트 메시지" in log and "전송됨" in log


def test_admin_list_pages_show_no_secrets(client, trader):
    trader.is_staff = True
    trader.is_superuser = True
    trader.save()
    client.force_login(trader)
    channel = SlackChannelFactory(user=trader, secret=HOOK)
    for url in (
        "/admin/notifications/notificationchannel/",
        f"/admin/notifications/notificationchannel/{channel.pk}/change/",
        "/admin/notifications/delivery/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "page-secret-hook" not in response.content.decode()


def test_form_checkboxes_sit_inside_their_labels(viewer_client):
    # Issue 11 #8: a checkbox stood apart from its label (label above, box stretched to the full width).
    import re

    html = viewer_client.get("/notifications/").content.decode()
    assert re.search(
        r'<label for="[\w-]*enabled"><input type="checkbox" name="[\w-]*enabled"', html
    )
    assert re.search(r'<label for="[\w-]*event_kinds_0"><input type="checkbox"', html)
