"""Attachments named by a notification (`data["attachments"]`), loaded by a registered loader when sent:
Telegram sends a photo (caption, or text first when too long for one), email attaches it, Slack sends the
text alone; an unknown or failing loader leaves the text going out."""

from __future__ import annotations

import pytest

from apps.notifications.attachments import register
from apps.notifications.backends.base import Attachment
from apps.notifications.models import Delivery
from apps.notifications.services import notify
from apps.notifications.tests.factories import SlackChannelFactory, TelegramChannelFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "fast_settings")]

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


@pytest.fixture(autouse=True)
def _loaders():
    register("test.png", lambda ref: Attachment(f"{ref}.png", "image/png", PNG))

    def broken(ref: str) -> Attachment:
        raise RuntimeError("gone")

    register("test.broken", broken)


def _notify(body: str, loader: str = "test.png") -> None:
    notify(
        "system",
        title="차트",
        body=body,
        data={"attachments": [{"loader": loader, "ref": "chart"}]},
    )


def test_telegram_long_text_goes_first_then_the_photo(
    fake_http, settings, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = fake_http.url
    channel = TelegramChannelFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _notify("가" * 2000)
    assert fake_http.wait_for(2)
    paths = [r.path.rsplit("/", 1)[1] for r in fake_http.requests]
    assert paths == ["sendMessage", "sendPhoto"]
    assert 'filename="chart.png"' in fake_http.requests[1].body["_raw"]
    assert Delivery.objects.get(channel=channel).status == "sent"


def test_slack_sends_the_text_and_unknown_or_broken_loaders_are_skipped(
    fake_http, django_capture_on_commit_callbacks
):
    SlackChannelFactory(secret=f"{fake_http.url}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        _notify("본문", loader="test.broken")
        _notify("본문2", loader="no.such.loader")
        _notify("본문3")
    assert fake_http.wait_for(3)
    assert all("text" in r.body for r in fake_http.requests)
    assert Delivery.objects.filter(status="sent").count() == 3
