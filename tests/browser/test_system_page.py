"""A trader logs in through the real page in Chromium and sees the status strip update live over /ws/live."""

from __future__ import annotations

import threading

import channels.testing.live as channels_live
import pytest
from channels.testing import ChannelsLiveServerTestCase

from apps.core.live import publish_now
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _keep_inherited_test_database() -> None:
    """Daphne's process is forked after pytest-django pointed NAME at the test database; channels' own
    setup would prefix 'test_' a second time."""


channels_live.set_database_connection = _keep_inherited_test_database


def _in_thread(fn, *args) -> None:
    thread = threading.Thread(target=fn, args=args)
    thread.start()
    thread.join(timeout=10)


class TestSystemPageLive(ChannelsLiveServerTestCase):
    serve_static = True

    @pytest.fixture(autouse=True)
    def _browser(self, browser):
        self.browser = browser

    def _login(self, page, username: str) -> None:
        page.goto(self.live_server_url + "/")
        assert "/login/" in page.url
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(self.live_server_url + "/")

    def test_login_and_live_status_update(self):
        UserFactory(username="trader-b", role="trader")
        page = self.browser.new_page()
        try:
            self._login(page, "trader-b")
            assert page.locator("#status-strip").is_visible()
            # The socket connects and the indicator turns on.
            page.wait_for_selector("#live-indicator.on", timeout=10_000)
            worker_chip = page.locator('.chip[data-component="worker"] b')
            assert worker_chip.inner_text() == "unknown"

            # Playwright's sync API owns an event loop in this thread; publish from another one.
            _in_thread(
                publish_now,
                "health",
                {
                    "ok": True,
                    "components": [
                        {"component": "worker", "status": "ok", "age_seconds": 1.0,
                         "data_count": 3, "message": ""},
                    ],
                },
            )  # fmt: skip

            page.wait_for_function(
                """() => document.querySelector('.chip[data-component="worker"] b')
                         .textContent === 'ok'""",
                timeout=10_000,
            )
            row = page.locator('#health-table tr[data-component="worker"] .count')
            assert row.inner_text() == "3"
            # Trader sees the switch toggle; the page is in Korean by default.
            assert page.locator("form.inline button").count() == 1
            assert "시스템 상태" in page.content()
        finally:
            page.close()

    def test_viewer_has_no_controls_and_can_switch_to_english(self):
        UserFactory(username="viewer-b", role="viewer")
        page = self.browser.new_page()
        try:
            self._login(page, "viewer-b")
            assert page.locator("form.inline button").count() == 0
            page.select_option("select[name=language]", "en")
            page.wait_for_selector("text=System status")
            assert "Read only" in page.content()
        finally:
            page.close()
