"""API: each user sees and edits only their own channels; secrets are write-only; the delivery log is paged
and filterable."""

from __future__ import annotations

import pytest

from apps.notifications.models import NotificationChannel
from apps.notifications.tests.factories import (
    DeliveryFactory,
    NotificationFactory,
    SlackChannelFactory,
    TelegramChannelFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

HOOK = "https://hooks.slack.test/services/T9/B9/api-secret-hook-value"
BASE = "/api/v1/notifications"


def test_login_required(api_client):
    assert api_client.get(f"{BASE}/channels").status_code in (401, 403)
    assert api_client.get(f"{BASE}/deliveries").status_code in (401, 403)


def test_create_channel_secret_is_write_only(api_client, viewer):
    api_client.force_authenticate(viewer)
    response = api_client.post(
        f"{BASE}/channels",
        {"kind": "slack", "name": "내 슬랙", "secret": HOOK, "event_kinds": ["condition.entry"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "secret" not in response.json()
    assert response.json()["has_secret"] is True
    assert HOOK not in response.content.decode()
    channel = NotificationChannel.objects.get(user=viewer)
    assert channel.secret == HOOK

    listing = api_client.get(f"{BASE}/channels")
    detail = api_client.get(f"{BASE}/channels/{channel.pk}")
    for r in (listing, detail):
        assert r.status_code == 200
        assert HOOK not in r.content.decode() and "api-secret-hook-value" not in r.content.decode()


def test_invalid_channel_is_refused_and_nothing_saved(api_client, trader):
    api_client.force_authenticate(trader)
    for payload in (
        {"kind": "slack", "secret": "not a url"},
        {"kind": "slack"},
        {"kind": "email", "target": "nope"},
        {"kind": "telegram", "target": "1", "secret": "no-colon"},
        {"kind": "console", "quiet_start": "22:00"},
        {"kind": "console", "event_kinds": ["condition.enter"]},
        {"kind": "pager"},
    ):
        response = api_client.post(f"{BASE}/channels", payload, format="json")
        assert response.status_code == 400, payload
    assert not NotificationChannel.objects.exists()
    body = api_client.post(f"{BASE}/channels", {"kind": "email", "target": "x"}, format="json")
    assert "올바른 이메일 주소" in body.content.decode()


def test_patch_keeps_secret_when_omitted_and_replaces_it_when_given(api_client, trader):
    channel = SlackChannelFactory(user=trader, secret=HOOK)
    api_client.force_authenticate(trader)

    response = api_client.patch(
        f"{BASE}/channels/{channel.pk}", {"enabled": False, "secret": ""}, format="json"
    )
    assert response.status_code == 200
    channel.refresh_from_db()
    assert (channel.enabled, channel.secret) == (False, HOOK)

    new_hook = "https://hooks.slack.test/services/T9/B9/rotated"
    api_client.patch(f"{BASE}/channels/{channel.pk}", {"secret": new_hook}, format="json")
    channel.refresh_from_db()
    assert channel.secret == new_hook

    bad = api_client.patch(
        f"{BASE}/channels/{channel.pk}", {"quiet_start": "01:00", "enabled": True}, format="json"
    )
    assert bad.status_code == 400
    channel.refresh_from_db()
    assert channel.quiet_start is None and channel.enabled is False


def test_nobody_reads_or_edits_another_users_channel(api_client, trader, other_user):
    theirs = TelegramChannelFactory(user=other_user)
    api_client.force_authenticate(trader)

    assert api_client.get(f"{BASE}/channels").json()["results"] == []
    url = f"{BASE}/channels/{theirs.pk}"
    assert api_client.get(url).status_code == 404
    assert api_client.patch(url, {"enabled": False}, format="json").status_code == 404
    assert api_client.delete(url).status_code == 404
    assert api_client.post(f"{url}/test").status_code == 404
    theirs.refresh_from_db()
    assert theirs.enabled is True


def test_delete_own_channel(api_client, trader):
    channel = SlackChannelFactory(user=trader)
    api_client.force_authenticate(trader)
    assert api_client.delete(f"{BASE}/channels/{channel.pk}").status_code == 204
    assert not NotificationChannel.objects.filter(pk=channel.pk).exists()


def test_deliveries_are_own_paged_and_filterable(api_client, trader, other_user):
    mine = SlackChannelFactory(user=trader, secret=HOOK)
    entry = NotificationFactory(kind="condition.entry", title="편입")
    fill = NotificationFactory(kind="order.fill", title="체결")
    DeliveryFactory(channel=mine, notification=entry, status="sent")
    DeliveryFactory(
        channel=mine, notification=fill, status="failed", attempts=5, last_error="HTTP 500"
    )
    DeliveryFactory(channel=SlackChannelFactory(user=other_user), notification=entry)
    api_client.force_authenticate(trader)

    body = api_client.get(f"{BASE}/deliveries").json()
    assert body["count"] == 2
    assert HOOK not in str(body)
    failed = api_client.get(f"{BASE}/deliveries", {"status": "failed"}).json()["results"]
    assert [(d["title"], d["attempts"], d["last_error"]) for d in failed] == [
        ("체결", 5, "HTTP 500")
    ]
    kinds = api_client.get(f"{BASE}/deliveries", {"kind": "condition.entry"}).json()
    assert [d["kind"] for d in kinds["results"]] == ["condition.entry"]
    page = api_client.get(f"{BASE}/deliveries", {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["next"]
    assert api_client.get(f"{BASE}/deliveries", {"status": "bogus"}).status_code == 400


def test_test_message_endpoint_sends_to_that_channel(api_client, trader, fake_http):
    channel = SlackChannelFactory(user=trader, secret=f"{fake_http.url}/hook")
    api_client.force_authenticate(trader)
    response = api_client.post(f"{BASE}/channels/{channel.pk}/test")
    assert response.status_code == 202
    # APIClient requests run in the test transaction: the send happens on commit, i.e. in the sweep here.
    from apps.notifications import tasks

    tasks.dispatch_due()
    assert len(fake_http.requests) == 1
    assert "테스트 메시지" in fake_http.requests[0].body["text"]
