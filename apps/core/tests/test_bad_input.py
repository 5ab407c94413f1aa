"""The five causes of the 500s found by the hardening review, each now a clear 4xx (the generated sweep over
every URL is test_hostile_input.py, a slow test)."""

from __future__ import annotations

import pytest

from apps.notifications.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "target"), [("console", ""), ("email", "me@example.test")])
def test_patch_of_a_channel_without_a_secret(viewer_client, viewer, kind, target):
    channel = ChannelFactory(user=viewer, kind=kind, target=target)
    response = viewer_client.patch(
        f"/api/v1/notifications/channels/{channel.pk}",
        {"name": "renamed"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["name"] == "renamed"


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_dates_at_the_end_of_the_calendar(viewer_client, value):
    for param in ("until", "since"):
        response = viewer_client.get("/api/v1/conditions/events", {param: value})
        assert response.status_code in (200, 400), (param, value)
    assert (
        viewer_client.get("/api/v1/conditions/events", {"until": "9999-12-31"}).status_code == 400
    )


def test_a_page_number_past_64_bits(viewer_client):
    response = viewer_client.get("/market/bars/", {"page": "9223372036854775808"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    ["/api/v1/market/chart/%00", "/api/v1/conditions/events?code=%00", "/market/bars/?code=a%00"],
)
def test_a_nul_byte_in_the_url(viewer_client, url):
    response = viewer_client.get(url)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_json_nested_ten_thousand_deep(viewer_client):
    body = "[" * 10_000 + "]" * 10_000
    response = viewer_client.post(
        "/api/v1/notifications/channels", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_a_nul_byte_in_a_json_string(viewer_client):
    response = viewer_client.post(
        "/api/v1/notifications/channels",
        '{"kind": "console", "name": "a\\u0000b"}',
        content_type="application/json",
    )
    assert response.status_code == 400
