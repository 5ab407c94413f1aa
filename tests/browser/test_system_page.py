"""A trader logs in through the real page in Chromium and sees the status strip update live over /ws/live."""

from __future__ import annotations

import threading

import pytest

from apps.core.live import publish_now
from apps.core.tests.factories import DEFAULT_PASSWORD, RuntimeFlagFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _in_thread(fn, *args) -> None:
    # Playwright's sync API owns an event loop in this thread; async_to_sync needs another one.
    thread = threading.Thread(target=fn, args=args)
    thread.start()
    thread.join(timeout=10)


def _login(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")


def test_login_and_live_status_update(browser, asgi_server):
    UserFactory(username="trader-b", role="trader")
    RuntimeFlagFactory(key="trading-enabled")  # transactional tests flush migration-seeded rows
    page = browser.new_page()
    try:
        _login(page, asgi_server, "trader-b")
        assert page.locator("#status-strip").is_visible()
        page.wait_for_selector("#live-indicator.on", timeout=10_000)
        assert page.locator('.chip[data-component="worker"] b').inner_text() == "알 수 없음"

        _in_thread(
            publish_now,
            "health",
            {
                "ok": True,
                "components": [
                    {"component": "worker", "status": "ok", "status_label": "정상", "age_seconds": 1.0,
                     "data_count": 3, "message": "", "message_label": "",
                     "last_seen_kst": "2026-11-23 09:00:01"},
                ],
            },
        )  # fmt: skip

        page.wait_for_function(
            """() => document.querySelector('.chip[data-component="worker"] b')
                     .textContent === '정상'""",
            timeout=10_000,
        )
        row = page.locator('#health-table tr[data-component="worker"]')
        assert row.locator(".count").inner_text() == "3"
        assert row.locator(".last-seen").inner_text() == "2026-11-23 09:00:01"
        # Trader sees the switch toggle; the page is Korean on an English browser.
        assert page.locator("form.inline .confirm-open").count() == 1
        assert "시스템 상태" in page.content()

        # Switching automatic trading on asks for confirmation and a reason (issue 11 #6).
        page.click("form.inline .confirm-open")
        dialog = page.locator("dialog#confirm-trading-enabled")
        assert dialog.is_visible()
        page.click("dialog#confirm-trading-enabled .confirm-cancel")
        assert not dialog.is_visible()
        page.click("form.inline .confirm-open")
        page.click("dialog#confirm-trading-enabled button[type=submit]")  # empty reason: refused
        assert dialog.is_visible()
        page.fill("dialog#confirm-trading-enabled input[name=reason]", "장 시작 점검 완료")
        page.click("dialog#confirm-trading-enabled button[type=submit]")
        page.wait_for_selector('tr[data-flag="trading-enabled"] q.reason')
        assert "장 시작 점검 완료" in page.locator('tr[data-flag="trading-enabled"]').inner_text()
        assert "trader-b" in page.locator('tr[data-flag="trading-enabled"]').inner_text()
    finally:
        page.close()


def test_viewer_has_no_controls_and_can_switch_to_english(browser, asgi_server):
    UserFactory(username="viewer-b", role="viewer")
    page = browser.new_page()
    try:
        _login(page, asgi_server, "viewer-b")
        assert page.locator("form.inline button").count() == 0
        page.select_option("select[name=language]", "en")
        page.wait_for_selector("text=System status")
        assert "Read only" in page.content()
    finally:
        page.close()
