"""A trader's manual buy against the simulator over real sockets, seen live on the orders page and the
positions page (no reload): form → `new` order row (web process) → the orders queue's send (run here, as
the worker would) → 00 frames → fill, position → `order_filled`/`position_update` on /ws/live."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from apps.accounts.tests.factories import BrokerAccountFactory
from apps.conditions.tests.live_support import in_thread, wait_until
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import order_send
from apps.trades.tests.sim_support import trading_sim

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CODE = "005930"


@pytest.fixture
def sim_trading() -> Iterator[tuple[Any, Any, Any]]:
    # Entered and left off this thread: Playwright keeps an event loop running here, and the
    # simulator's cleanup uses asyncio.run().
    stack = contextlib.ExitStack()
    handles = in_thread(stack.enter_context, trading_sim(dt.date(2025, 11, 3), participation="0.5"))
    try:
        yield handles
    finally:
        in_thread(stack.close)


def test_manual_buy_shows_live_on_orders_and_positions(browser, asgi_server, sim_trading) -> None:
    UserFactory(username="trader-orders", role="trader")
    sim, broker, feed = sim_trading
    BrokerAccountFactory(
        is_active=True,
        account_no=sim.account,
        app_key=sim.app_key,
        secret_key=sim.credential.secret_key,
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(asgi_server + "/orders/")
    page.fill("input[name=username]", "trader-orders")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(asgi_server + "/orders/")
    positions = context.new_page()
    positions.goto(asgi_server + "/positions/")
    positions.wait_for_selector("#live-indicator.on", timeout=10_000)
    assert positions.locator(f'#positions tr[data-code="{CODE}"]').count() == 0
    positions.evaluate("window.__sameDocument = true")

    # The form: a market buy of 10 shares; a double click still makes one order.
    page.select_option("select[name=side]", "buy")
    page.fill("input[name=code]", CODE)
    page.select_option("select[name=order_type]", "market")
    page.fill("input[name=quantity]", "10")
    page.dblclick("#order-submit")
    page.wait_for_url(asgi_server + "/orders/")
    order = wait_until(lambda: Order.objects.filter(code=CODE).first())
    page.wait_for_selector(f'#orders tr[data-order="{order.pk}"]', timeout=10_000)
    page.wait_for_selector("#live-indicator.on", timeout=10_000)
    page.evaluate("window.__sameDocument = true")
    assert Order.objects.count() == 1 and order.status == OrderStatus.NEW

    # The worker's part: claim and send it once, then the 00 frames bring the fill.
    sent = in_thread(order_send, order.pk, broker.place_order)
    assert sent.status in (OrderStatus.ACCEPTED, OrderStatus.FILLED), sent.status
    sim.advance_sync(seconds=2)
    assert in_thread(
        feed.settle, lambda: Order.objects.get(pk=order.pk).status == OrderStatus.FILLED
    )

    page.wait_for_selector(
        f'#orders tr[data-order="{order.pk}"][data-status="filled"]', timeout=15_000
    )
    positions.wait_for_selector(f'#positions tr[data-code="{CODE}"]', timeout=15_000)
    held = Position.objects.get(code=CODE)
    assert held.quantity == 10
    assert positions.locator(f'#positions tr[data-code="{CODE}"] .qty').inner_text() == "10"
    assert page.evaluate("window.__sameDocument") is True
    assert positions.evaluate("window.__sameDocument") is True

    # The order's journal page lists every state it went through.
    page.goto(f"{asgi_server}/orders/{order.pk}/")
    journal = page.locator("#transitions tbody tr")
    assert journal.count() >= 3
    context.close()
