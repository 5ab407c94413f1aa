"""The overview's signal feed in Chromium: a stored signal is listed with its reason, and a `trade_signal`
push adds a row live (and updates it when the same signal's outcome arrives), linking to its page."""

from __future__ import annotations

import threading

import pytest
from django.utils import timezone

from apps.core.live import publish_now
from apps.core.tests.factories import DEFAULT_PASSWORD, RuntimeFlagFactory, UserFactory
from apps.strategy.tests.support import SignalFactory
from krx import KST

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _in_thread(fn, *args) -> None:
    thread = threading.Thread(target=fn, args=args)
    thread.start()
    thread.join(timeout=10)


def test_the_signal_feed_updates_live(browser, asgi_server):
    UserFactory(username="viewer-s", role="viewer")
    RuntimeFlagFactory(key="trading-enabled")
    now = timezone.now()  # the feed shows the exchange's day (the wall clock here)
    stored = SignalFactory(
        reason="거래대금 3위, 시가 범위 돌파", at=now, day=now.astimezone(KST).date()
    )
    page = browser.new_page()
    try:
        page.goto(asgi_server + "/")
        page.fill("input[name=username]", "viewer-s")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/")
        feed = page.locator("#signal-feed")
        assert "거래대금 3위, 시가 범위 돌파" in feed.inner_text()
        page.wait_for_selector("#live-indicator.on", timeout=10_000)
        signal = {
            "code": "000660",
            "action": "buy",
            "reason": "volume_leader",
            "id": stored.pk + 1,
            "strategy": "opening_breakout",
            "name": "SK하이닉스",
            "at": "2025-02-04T00:15:30+00:00",
            "price": 180_000,
            "status": "gated",
            "order_id": None,
            "risk_reasons": [],
        }
        _in_thread(publish_now, "trade_signal", signal)
        row = page.locator(f'#signal-feed tr[data-signal="{stored.pk + 1}"]')
        row.wait_for(timeout=10_000)
        assert page.locator("#signal-feed tbody tr").first.get_attribute("data-signal") == str(
            stored.pk + 1
        )
        text = row.inner_text()
        assert "09:15:30" in text and "volume_leader" in text and "자동매매 꺼짐" in text
        assert row.locator("a").get_attribute("href") == f"/signals/{stored.pk + 1}/"
        _in_thread(publish_now, "trade_signal", {**signal, "status": "accepted"})
        page.wait_for_function(
            f"""() => document.querySelector('#signal-feed tr[data-signal="{stored.pk + 1}"] .status')
                     .textContent === '주문 전송'""",
            timeout=10_000,
        )
        assert page.locator("#signal-feed tbody tr").count() == 2
        # system_status: the engine's state next to the feed's title.
        assert page.locator("#engine-status").get_attribute("data-status") == "stopped"
        _in_thread(publish_now, "system_status", {"status": "paused", "active_positions": 2})
        page.wait_for_function(
            """() => document.querySelector('#engine-status').dataset.status === 'paused'""",
            timeout=10_000,
        )
        assert "진입 중지" in page.locator("#engine-status").inner_text()
    finally:
        page.close()
