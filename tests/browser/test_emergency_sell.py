"""The emergency-sell button in headless Chromium, against the simulator: a trader confirms twice (the
confirmation double-clicked), one liquidation starts (web process: run, gate closed, task queued); the
orders queue's part runs here, as the worker would; its progress (`liquidation_progress` on /ws/live)
is drawn live on the positions page until all twenty holdings show sold (each had a buy resting under
the market: every one is cancelled), without a reload. A viewer gets no
button."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pytest

from apps.accounts.tests.factories import BrokerAccountFactory
from apps.conditions.tests.live_support import in_thread, wait_until
from apps.core.models import RuntimeFlag
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.risk.services.liquidation import liquidation_check, liquidation_current, liquidation_run
from apps.risk.tests.conftest import clear_risk_keys
from apps.risk.tests.sim_support import flat_soon, open_twenty
from apps.trades.models import Order, OrderStatus

from .test_trading_pages import shared_token_sim

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DAY = dt.date(2025, 11, 3)


@pytest.fixture(autouse=True)
def _forget_liquidations() -> Iterator[None]:
    clear_risk_keys()
    yield
    clear_risk_keys()


@pytest.fixture
def sim_trading(transactional_db) -> Iterator[tuple]:  # the simulator's base prices are seeded
    stack = contextlib.ExitStack()
    handles = in_thread(stack.enter_context, shared_token_sim())
    try:
        yield handles
    finally:
        in_thread(stack.close)


def open_positions(sim, broker, feed) -> list[str]:  # type: ignore[no-untyped-def]
    """Twenty holdings, each with a buy resting 5% under the market (the issue's liquidation)."""
    from apps.risk.testing import permissive_config

    permissive_config()  # twenty positions: more than the seeded five, the entry limits are not tested here
    return open_twenty(sim, broker, feed, DAY)


def login(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_context().new_page()
    page.goto(base + "/positions/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/positions/")
    return page


def test_emergency_sell_progress_live(browser, sim_trading, asgi_server) -> None:
    sim, broker, feed = sim_trading
    UserFactory(username="trader-flatten", role="trader")
    UserFactory(username="viewer-flatten", role="viewer")
    BrokerAccountFactory(
        is_active=True,
        account_no=sim.account,
        app_key=sim.app_key,
        secret_key=sim.credential.secret_key,
    )
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    codes = in_thread(open_positions, sim, broker, feed)
    assert len(codes) == 20

    viewer = login(browser, asgi_server, "viewer-flatten")
    assert viewer.locator("#emergency-sell-viewer").count() == 1
    assert viewer.locator("#emergency-sell-start").count() == 0
    viewer.context.close()

    page = login(browser, asgi_server, "trader-flatten")
    page.wait_for_selector("#live-indicator.on", timeout=10_000)
    page.evaluate("window.__sameDocument = true")
    # First click: only the confirmation opens.
    page.click("#emergency-sell-start")
    page.wait_for_selector("#emergency-sell-confirm:not([hidden])")
    assert liquidation_current() is None
    page.fill("#emergency-sell-reason", "브라우저 테스트")
    page.dblclick("#emergency-sell-confirm-button")
    page.wait_for_selector('#emergency-sell-progress .status[data-status="queued"]', timeout=10_000)
    run = wait_until(liquidation_current)
    assert run.reason == "브라우저 테스트" and run.requested_by == "trader-flatten"
    assert not RuntimeFlag.objects.get(key="trading-enabled").enabled

    # The orders queue's part (here, as the worker would), then the fills from the 00 frames.
    in_thread(liquidation_run, run.id, broker, schedule_checks=False)
    page.wait_for_selector(
        '#emergency-sell-progress .status[data-status="watching"]', timeout=15_000
    )
    assert page.locator("#emergency-sell-progress tbody tr").count() == len(codes)
    assert in_thread(flat_soon, sim, feed)
    final = in_thread(liquidation_check, run.id)
    assert final.status == "done"
    page.wait_for_selector('#emergency-sell-progress .status[data-status="done"]', timeout=15_000)
    assert page.locator('#emergency-sell-progress tr[data-state="sold"]').count() == len(codes)
    assert page.evaluate("window.__sameDocument") is True
    # One run, one sell a holding, every resting buy cancelled.
    sells = Order.objects.filter(side="sell")
    assert sells.count() == len(codes) and {s.cause_ref for s in sells} == {run.id}
    resting = Order.objects.filter(side="buy", price__isnull=False)
    assert resting.count() == 20
    assert set(resting.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    page.context.close()
