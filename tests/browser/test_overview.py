"""The overview page in Chromium: a viewer logs in and sees the balance, a position card and the day's
feed; then, without a reload, a balance sync's push, a price tick, a real fill (the books' `order_filled`
and `position_update`), a condition hit, a real halt (`risk_state`) and the engine's `system_status` each
change the page in place."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts.services import balance_payload
from apps.accounts.tests.factories import BalanceSnapshotFactory, BrokerAccountFactory
from apps.conditions.tests.live_support import in_thread
from apps.core.live import publish_now
from apps.core.tests.factories import DEFAULT_PASSWORD, RuntimeFlagFactory, UserFactory
from apps.strategy.tests.support import SignalFactory
from apps.trades.services import fill_apply
from apps.trades.tests.factories import OrderFactory, PositionFactory
from krx import KST

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WAIT = 15_000


def _text_is(page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => { const n = document.querySelector(s); return n && n.textContent.trim() === t; }",
        arg=[selector, text],
        timeout=WAIT,
    )


def test_the_overview_shows_the_day_and_follows_it_live(browser, asgi_server) -> None:
    from apps.risk.services import gate

    UserFactory(username="viewer-o", role="viewer")
    RuntimeFlagFactory(key="trading-enabled")  # transactional tests flush migration-seeded rows
    now = timezone.now()
    today = now.astimezone(KST).date()
    account = BrokerAccountFactory(account_no=settings.KIWOOM_ACCOUNT, is_active=True)
    BalanceSnapshotFactory(
        account=account,
        taken_at=now - dt.timedelta(minutes=2),
        cash=4_321_000,
        estimated_assets=10_321_000,
        day_profit_loss=-79_000,
    )
    PositionFactory(code="005930", quantity=10, current_price=71_000, stop_price=67_900)
    SignalFactory(at=now - dt.timedelta(minutes=1), day=today, reason="거래대금 1위 돌파")

    page = browser.new_page()
    try:
        page.goto(asgi_server + "/")
        page.fill("input[name=username]", "viewer-o")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + "/")
        assert page.locator('#ov-account [data-field="cash"]').inner_text() == "4,321,000원"
        assert page.locator('#ov-account [data-field="day_pnl_rate"]').inner_text() == "-0.76%"
        card = page.locator('#position-cards .pos-card[data-code="005930"]')
        assert "67,900원" in card.locator(".stop").inner_text()
        assert card.locator(".pnl").inner_text() == "10,000원"
        assert "거래대금 1위 돌파" in page.locator("#signal-feed").inner_text()
        assert page.evaluate("window.STOCKAGENT_EQUITY_CHART.data.datasets[0].data.length") == 1
        page.wait_for_selector("#live-indicator.on", timeout=WAIT)

        # A balance sync lands: the summary and the equity curve follow.
        synced = BalanceSnapshotFactory(
            account=account, taken_at=now, cash=5_000_000, estimated_assets=10_500_000,
            day_profit_loss=100_000,
        )  # fmt: skip
        in_thread(publish_now, "account_balance", balance_payload(synced))
        _text_is(page, '#ov-account [data-field="cash"]', "5,000,000원")
        assert page.locator('#ov-account [data-field="day_pnl_rate"]').inner_text() == "+0.96%"
        assert page.evaluate("window.STOCKAGENT_EQUITY_CHART.data.datasets[0].data") == [
            10_321_000,
            10_500_000,
        ]

        # A tick reprices the card.
        in_thread(publish_now, "price_update", {"code": "005930", "price": 72_000, "volume": 5})
        _text_is(page, '.pos-card[data-code="005930"] .pnl', "20,000원")
        assert card.locator(".rate").inner_text() == "+2.86%"

        # The risk engine's trailing stop moves up: the card's stop price follows.
        moved = {"code": "005930", "qty": 10, "pnl": 20_000, "stop": 70_500}
        in_thread(publish_now, "position_update", moved)
        _text_is(page, '.pos-card[data-code="005930"] .stop', "70,500원")

        # A real fill: a feed row, the last fill time, and the new position's card.
        order = OrderFactory(code="000660", name="SK하이닉스", quantity=3, price=180_000)
        filled_at = timezone.now()
        in_thread(fill_apply, order.pk, cum_quantity=3, cum_amount=540_000, executed_at=filled_at)
        page.wait_for_selector('#signal-feed tr[data-kind="fill"]', timeout=WAIT)
        row = page.locator('#signal-feed tr[data-kind="fill"]')
        assert "SK하이닉스" in row.inner_text() and "3주 @ 180,000원" in row.inner_text()
        assert page.locator("#signal-feed tbody tr").first.get_attribute("data-kind") == "fill"
        page.wait_for_selector('.pos-card[data-code="000660"]', timeout=WAIT)
        _text_is(page, "#ov-last-fill", filled_at.astimezone(KST).strftime("%m-%d %H:%M:%S"))

        # A condition hit.
        hit = {"id": 991, "condition": 7, "code": "035720", "name": "카카오", "kind": "entry",
               "at": timezone.now().isoformat(), "price": 41_000}  # fmt: skip
        in_thread(
            publish_now,
            "conditions.update",
            {"condition": {"id": 7, "name": "급등주"}, "events": [hit], "members_changed": True},
        )
        page.wait_for_selector('#signal-feed tr[data-condition-event="991"]', timeout=WAIT)
        text = page.locator('#signal-feed tr[data-condition-event="991"]').inner_text()
        assert "급등주" in text and "카카오" in text and "편입" in text and "41,000원" in text

        # A halt elsewhere (the daily loss, a trader on the phone): the status follows.
        assert page.locator("#ov-risk").get_attribute("data-state") == "active"
        in_thread(gate.halt, user=None, reason="브라우저 시험")
        page.wait_for_selector('#ov-risk[data-state="halted"]', timeout=WAIT)
        assert page.locator("#ov-risk b").inner_text() == "중단"
        assert page.locator("#ov-trading").get_attribute("data-entries") == "0"

        # The strategy engine starts.
        in_thread(publish_now, "system_status", {"status": "paused", "active_positions": 2})
        page.wait_for_selector('#engine-status[data-status="paused"]', timeout=WAIT)
        assert page.url == asgi_server + "/"  # never reloaded
    finally:
        page.close()
