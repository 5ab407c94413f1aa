"""The strategy page in Chromium: a `trade_signal` push (the realtime engine's, seed 004 §8.3) prepends a
row live, a change saved from the page becomes a new version, and a bad value is shown at its field."""

from __future__ import annotations

import threading

import pytest

from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _in_thread(fn, *args, **kwargs) -> None:
    # Playwright's sync API owns an event loop in this thread; the live push needs another one.
    thread = threading.Thread(target=fn, args=args, kwargs=kwargs)
    thread.start()
    thread.join(timeout=10)


def test_signals_arrive_live_and_the_trader_edits_parameters(browser, asgi_server) -> None:
    from apps.core.live import publish_now
    from apps.strategy.models import StrategyConfig
    from apps.strategy.tests.factories import StrategyConfigFactory

    UserFactory(username="trader-s", role="trader")
    StrategyConfigFactory(strategy="opening_breakout")  # transactional tests flush the seeded rows
    StrategyConfigFactory(strategy="condition_entry", enabled=False)
    page = browser.new_page()
    try:
        page.goto(asgi_server + "/strategy/")
        page.fill("input[name=username]", "trader-s")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/strategy/")
        page.wait_for_selector("#live-indicator.on", timeout=10_000)
        assert page.locator("#signal-rows tr.empty").count() == 1

        payload = {
            "code": "005930",
            "action": "buy",
            "reason": "장초 고가 71,000 돌파",
            "id": 41,
            "strategy": "opening_breakout",
            "name": "삼성전자",
            "at": "2025-01-15T00:07:10+00:00",
            "price": 71_100,
            "status": "accepted",
            "risk_reasons": [],
        }
        _in_thread(publish_now, "trade_signal", payload)
        row = page.wait_for_selector('#signal-rows tr[data-signal="41"]', timeout=15_000)
        text = row.inner_text()
        assert "005930" in text and "09:07:10" in text and "장초 고가 71,000 돌파" in text
        assert "주문 전송" in text and "71,100" in text  # the status label, the price
        assert page.locator("#signal-rows tr.empty").count() == 0

        card = page.locator("#strategy-opening_breakout")
        card.locator("summary").click()
        form = card.locator("form.config-form")
        form.locator("input[name=p_top_n]").fill("0")
        form.locator("input[name=reason]").fill("브라우저")
        form.locator("button[type=submit]").click()
        page.wait_for_selector('#strategy-opening_breakout [data-error="top_n"]', timeout=15_000)
        assert StrategyConfig.objects.filter(strategy="opening_breakout").count() == 1

        form = page.locator("#strategy-opening_breakout form.config-form")
        form.locator("input[name=p_top_n]").fill("3")
        form.locator("button[type=submit]").click()
        page.wait_for_selector('#strategy-opening_breakout[data-version="2"]', timeout=15_000)
        assert page.locator('#strategy-opening_breakout td[data-field="top_n"]').inner_text() == "3"
        assert "top_n" in page.locator("#strategy-history").inner_text()
    finally:
        page.close()
