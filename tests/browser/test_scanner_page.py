"""The scanner page in Chromium against a real Daphne server: the latest run's rows are shown, a scan run
server-side appears live over /ws/live (`scanner_update`, no reload), and the slider replays an earlier run
of the day."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.broker.contract import RankingKind
from apps.conditions.tests.live_support import in_thread
from apps.core.live import live_flush
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.strategy.scanner import scan_run
from apps.strategy.tests.scanner_factories import snapshot_with_rows
from apps.strategy.tests.test_scanner_merge import row
from apps.strategy.tests.test_scanner_service import broker_with_rankings
from krx import KST

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _scan() -> int:
    broker = broker_with_rankings()
    broker.rankings_data[RankingKind.TRADING_VALUE].insert(
        0, row(1, "000777", value=99_000_000_000, name="새대장주")
    )
    snapshot = scan_run(broker, at=dt.datetime(2025, 2, 4, 9, 2, 3, tzinfo=KST))
    assert snapshot is not None
    assert live_flush(10)
    return snapshot.pk


def test_rows_update_live_and_the_slider_replays(browser, asgi_server, monkeypatch) -> None:
    import apps.news.scores

    monkeypatch.setattr(apps.news.scores, "get_score", lambda code: None)
    in_thread(UserFactory, username="viewer-s", role="viewer")
    in_thread(
        snapshot_with_rows, dt.datetime(2025, 2, 4, 9, 0, 5, tzinfo=KST), ["000001", "000002"]
    )
    in_thread(
        snapshot_with_rows, dt.datetime(2025, 2, 4, 9, 1, 5, tzinfo=KST), ["000002", "000001"]
    )
    page = browser.new_context().new_page()
    try:
        page.goto(asgi_server + "/scanner/")
        page.fill("input[name=username]", "viewer-s")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/scanner/")
        page.wait_for_selector("#live-indicator.on", timeout=10_000)
        first = page.locator("#scanner-table tbody tr").first
        assert first.get_attribute("data-code") == "000002"
        assert page.locator("#scan-at").inner_text() == "09:01"
        page.evaluate("window.__sameDocument = true")

        in_thread(_scan)

        page.wait_for_selector(
            '#scanner-table tr[data-code="000777"][data-rank="1"]', timeout=15_000
        )
        assert page.evaluate("window.__sameDocument") is True  # updated in place, no reload
        assert page.locator("#scan-at").inner_text() == "09:02"
        assert page.locator("#scan-slider").get_attribute("max") == "2"

        page.locator("#scan-slider").fill("0")  # replay the day's first run
        page.wait_for_selector(
            '#scanner-table tbody tr[data-code="000001"][data-rank="1"]', timeout=10_000
        )
        assert page.locator("#scan-at").inner_text() == "09:00"
        assert page.locator("#scanner-replay").get_attribute("data-live") == "0"
    finally:
        page.close()
