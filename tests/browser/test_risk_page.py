"""The risk page in Chromium: a halt made elsewhere shows live (a `risk_state` push over /ws/live), and
the trader resumes from the page with a reason."""

from __future__ import annotations

import threading

import pytest

from apps.core.tests.factories import DEFAULT_PASSWORD, RuntimeFlagFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _in_thread(fn, *args, **kwargs) -> None:
    # Playwright's sync API owns an event loop in this thread; the live push needs another one.
    thread = threading.Thread(target=fn, args=args, kwargs=kwargs)
    thread.start()
    thread.join(timeout=10)


def test_a_halt_shows_live_and_the_trader_resumes(browser, asgi_server) -> None:
    from apps.risk.models import RiskStatus
    from apps.risk.services import gate

    UserFactory(username="trader-r", role="trader")
    RuntimeFlagFactory(key="trading-enabled")  # transactional tests flush migration-seeded rows
    page = browser.new_page()
    try:
        page.goto(asgi_server + "/risk/")
        page.fill("input[name=username]", "trader-r")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/risk/")
        assert page.locator("#risk-state").get_attribute("data-state") == "active"
        page.wait_for_selector("#live-indicator.on", timeout=10_000)

        _in_thread(gate.halt, user=None, reason="브라우저 시험")  # e.g. the daily loss, elsewhere

        page.wait_for_selector('#risk-state[data-state="halted"]', timeout=15_000)
        assert "HALTED" in page.locator("#risk-state-label").inner_text()  # in place, no reload
        page.reload()
        page.wait_for_selector("#risk-journal >> text=브라우저 시험", timeout=15_000)

        form = page.locator("form[action$='/risk/state/resume']")
        form.locator("input[name=reason]").fill("점검 완료")
        form.locator("button[type=submit]").click()
        page.wait_for_selector('#risk-state[data-state="active"]', timeout=15_000)
        assert RiskStatus.objects.get(pk=1).state == "active"
    finally:
        page.close()
