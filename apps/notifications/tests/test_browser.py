"""The settings page in headless Chromium against a real Daphne server and Celery worker: a bad webhook URL
shows a clear error and saves nothing; a good one is saved; the test button reaches the fake Slack webhook and
the delivery log shows it sent."""

from __future__ import annotations

import pytest

from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.notifications.models import Delivery, NotificationChannel
from apps.notifications.tests.fakes import wait_until
from tests.browser.conftest import asgi_server, browser  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_add_channel_and_send_a_test_message(browser, asgi_server, worker, fake_http):  # noqa: F811
    UserFactory(username="notify-b", role="viewer")
    page = browser.new_page()
    try:
        page.goto(asgi_server + "/notifications/")
        page.fill("input[name=username]", "notify-b")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/notifications/")

        page.select_option("select[name=new-kind]", "slack")
        page.fill("input[name=new-name]", "내 슬랙")
        page.fill("input[name=new-secret]", "hooks.slack.com/no-scheme")
        page.click("#new-channel button[type=submit]")
        assert page.locator("text=Slack 웹훅 URL 형식이 올바르지 않습니다.").is_visible()
        assert not NotificationChannel.objects.exists()

        page.fill("input[name=new-secret]", f"{fake_http.url}/services/browser")
        page.click("#new-channel button[type=submit]")
        page.wait_for_selector("#channels tr[data-channel]")
        assert "services/browser" not in page.content()

        page.click("#channels button:has-text('테스트 메시지 보내기')")
        assert fake_http.wait_for(1, timeout=60)
        assert "테스트 메시지" in fake_http.requests[0].body["text"]
        assert wait_until(lambda: Delivery.objects.filter(status="sent").exists(), timeout=30)
        page.reload()
        page.wait_for_selector("#deliveries td.status.sent", timeout=30_000)
    finally:
        page.close()
