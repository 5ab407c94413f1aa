"""Notification channels cannot reach internal addresses (SSRF) and do not echo connection errors."""

from __future__ import annotations

import logging

import pytest

from apps.notifications.backends.egress import DestinationRefused, check_destination, url_problem
from apps.notifications.models import Delivery
from apps.notifications.services import notify
from apps.notifications.tests.factories import SlackChannelFactory, TelegramChannelFactory

SLACK = ["hooks.slack.com"]


@pytest.fixture
def no_local(settings):
    settings.NOTIFY_ALLOW_LOCAL_HOSTS = []
    settings.NOTIFY_SLACK_HOSTS = SLACK
    return settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:18400/_sim/faults",
        "https://127.0.0.1/x",
        "https://10.1.2.3/services/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "http://hooks.slack.com/services/T/B/x",  # not HTTPS
        "https://hooks.slack.com.evil.test/services/x",
        "https://evil.test/services/x",
        "ftp://hooks.slack.com/x",
        "https://hooks.slack.com:99999/x",
    ],
)
def test_only_the_real_host_over_https_is_a_valid_destination(no_local, url):
    assert url_problem(url, SLACK) is not None
    with pytest.raises(DestinationRefused):
        check_destination(url, SLACK)


def test_the_real_slack_host_is_accepted(no_local):
    assert url_problem("https://hooks.slack.com/services/T0/B0/abc", SLACK) is None


@pytest.mark.parametrize("host", ["localhost", "169.254.169.254", "10.0.0.7", "0.0.0.0"])  # noqa: S104
def test_an_allowed_name_resolving_to_a_private_address_is_refused(no_local, host):
    # Even a host on the allow list is refused when it resolves to loopback/private/link-local space.
    with pytest.raises(DestinationRefused) as caught:
        check_destination(f"https://{host}/hook", [host])
    assert host not in str(caught.value)


@pytest.mark.django_db
def test_viewer_cannot_point_a_slack_channel_at_the_simulator(no_local, viewer_client):
    response = viewer_client.post(
        "/api/v1/notifications/channels",
        {"kind": "slack", "name": "x", "secret": "http://127.0.0.1:18400/_sim/faults"},
        format="json",
    )
    assert response.status_code == 400
    assert "hooks.slack.com" in str(response.json())


@pytest.mark.django_db
def test_a_stored_internal_url_is_never_contacted(
    no_local, fake_http, caplog, eager, django_capture_on_commit_callbacks
):
    channel = SlackChannelFactory(secret=f"{fake_http.url}/services/T/B/x")  # saved before the fix
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        notify("system", title="점검", users=[channel.user])
    delivery = Delivery.objects.get(channel=channel)
    assert (delivery.status, delivery.last_error) == ("failed", "invalid URL scheme")
    assert fake_http.requests == []
    assert "127.0.0.1" not in delivery.last_error


@pytest.mark.django_db
def test_connection_errors_are_not_echoed(settings, eager, django_capture_on_commit_callbacks):
    # A refused port and a timeout look the same to the user: the delivery log cannot map ports.
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9"
    channel = TelegramChannelFactory()
    with django_capture_on_commit_callbacks(execute=True):
        notify("system", title="점검", users=[channel.user])
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.last_error == "network error"
