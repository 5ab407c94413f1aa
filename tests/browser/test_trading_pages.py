"""A trader's manual orders against the simulator over real sockets, through the pages: a market buy seen
live on the orders page and the positions page (no reload) — form → `new` order row (web process) → the
orders queue's send (run here, as the worker would) → 00 frames → fill, position → `order_filled`/
`position_update` on /ws/live; a resting limit buy amended and then cancelled from its page (the web process
calls the simulator), its `new → accepted` shown on the orders page by `order_update` alone; a market sell
that takes the position off the positions page live."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest

from apps.accounts.tests.factories import BrokerAccountFactory
from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, simulator_in_thread
from apps.broker.tests.client_support import cleanup_prefix, client_config
from apps.conditions.tests.live_support import in_thread, wait_until
from apps.core.live import publish_now
from apps.core.rediskeys import redis_key
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import order_send
from apps.trades.tests.sim_support import Feed, seed_base_prices
from krx import tick_round

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CODE = "005930"
DAY = dt.date(2025, 11, 3)


@contextlib.contextmanager
def shared_token_sim() -> Iterator[tuple[SimHandle, KiwoomBroker, Feed]]:
    """`trading_sim`, but the test's broker keeps its token where the web process does (the settings'
    key prefix): one token per app key, as in production (a second token would invalidate the first)."""
    prefix = redis_key("stockagent", "kiwoom")
    with simulator_in_thread(
        config=ServerConfig(rate_limit_per_s=None, ping_interval_s=3600),
        start=default_start(DAY, dt.time(9, 5)),
        use_krx_calendar=False,
        participation=Decimal("0.5"),
    ) as sim:
        asyncio.run(cleanup_prefix(prefix))
        broker = KiwoomBroker(client_config(sim, timeout_seconds=5.0, key_prefix=prefix))
        seed_base_prices(broker, DAY)  # the risk engine values the market buy at the upper limit
        feed = Feed(broker)
        feed.start()
        try:
            yield sim, broker, feed
        finally:
            feed.stop()
            broker.close()
            asyncio.run(cleanup_prefix(prefix))


@pytest.fixture
def sim_trading(monkeypatch, transactional_db) -> Iterator[tuple[SimHandle, KiwoomBroker, Feed]]:
    # Entered and left off this thread: Playwright keeps an event loop running here, and the
    # cleanup uses asyncio.run().
    stack = contextlib.ExitStack()
    handles = in_thread(stack.enter_context, shared_token_sim())
    # The web process (started after this fixture) sends amends and cancels to this simulator.
    url = urlsplit(handles[0].base_url)
    monkeypatch.setenv("KIWOOM_SIM_HOST", url.hostname)
    monkeypatch.setenv("KIWOOM_SIM_PORT", str(url.port))
    try:
        yield handles
    finally:
        in_thread(stack.close)


def test_manual_buy_shows_live_on_orders_and_positions(browser, sim_trading, asgi_server) -> None:
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
        feed.settle, lambda: Order.objects.get(pk=order.pk).status == OrderStatus.FILLED, wait=30
    )

    page.wait_for_selector(
        f'#orders tr[data-order="{order.pk}"][data-status="filled"]', timeout=30_000
    )
    positions.wait_for_selector(f'#positions tr[data-code="{CODE}"]', timeout=30_000)
    held = Position.objects.get(code=CODE)
    assert held.quantity == 10
    assert positions.locator(f'#positions tr[data-code="{CODE}"] .qty').inner_text() == "10"
    # The books set the stop price the risk exit sells at; a moved stop (the trailing high) follows live.
    stop = positions.locator(f'#positions tr[data-code="{CODE}"] .stop')
    assert held.stop_price and stop.inner_text() == f"{held.stop_price:,}원"
    moved = {"code": CODE, "qty": 10, "pnl": None, "stop": held.stop_price + 1_000}
    in_thread(publish_now, "position_update", moved)
    wait_until(lambda: stop.inner_text() == f"{held.stop_price + 1_000:,}원")
    assert page.evaluate("window.__sameDocument") is True
    assert positions.evaluate("window.__sameDocument") is True

    # The order's journal page lists every state it went through.
    page.goto(f"{asgi_server}/orders/{order.pk}/")
    journal = page.locator("#transitions tbody tr")
    assert journal.count() >= 3

    # A resting limit buy far below the market, amended, then cancelled from its page.
    low = tick_round(broker.quote(CODE).price * 95 // 100, "KOSPI", DAY, "down")
    lower = tick_round(low - 1, "KOSPI", DAY, "down")
    rest = place(page, asgi_server, "buy", "limit", 5, low)
    # new → accepted without a fill: only `order_update` tells the page (it polls only while the socket is down).
    page.wait_for_selector("#live-indicator.on", timeout=10_000)
    page.evaluate("window.__sameDocument = true")
    in_thread(order_send, rest.pk, broker.place_order)
    page.wait_for_selector(
        f'#orders tr[data-order="{rest.pk}"][data-status="accepted"]', timeout=10_000
    )
    assert page.evaluate("window.__sameDocument") is True
    page.goto(f"{asgi_server}/orders/{rest.pk}/")
    page.wait_for_selector('#order-status:has-text("접수")', timeout=30_000)
    page.fill("#amend-form input[name=price]", str(lower))
    page.click("#amend-form button[type=submit]")
    child = wait_until(lambda: Order.objects.filter(parent=rest, kind="amend").first())
    page.wait_for_url(f"{asgi_server}/orders/{child.pk}/")
    assert child.price == lower
    try:
        page.wait_for_selector("#cancel-form", timeout=30_000)
    except Exception:
        child.refresh_from_db()
        raise AssertionError(
            (child.status, child.message, list(child.transitions.values_list("to_status", "cause")))
        ) from None
    page.click("#cancel-form button[type=submit]")
    page.wait_for_url(f"{asgi_server}/orders/{child.pk}/")
    assert wait_until(lambda: Order.objects.get(pk=child.pk).status == OrderStatus.CANCELLED)
    assert Order.objects.get(pk=rest.pk).status == OrderStatus.REPLACED

    # Sell everything at market: the position leaves the positions page live.
    positions.evaluate("window.__sameDocument = true")
    sell = place(page, asgi_server, "sell", "market", 10)
    sent = in_thread(order_send, sell.pk, broker.place_order)
    sim.advance_sync(seconds=2)
    filled = in_thread(
        feed.settle, lambda: Order.objects.get(pk=sell.pk).status == OrderStatus.FILLED, wait=30
    )
    sell.refresh_from_db()
    assert filled, (sent.status, sent.message, sell.status, sell.filled_quantity)
    positions.wait_for_selector(
        f'#positions tr[data-code="{CODE}"]', state="detached", timeout=30_000
    )
    assert positions.evaluate("window.__sameDocument") is True
    assert Position.objects.get(code=CODE).quantity == 0
    context.close()


def place(page: Any, base: str, side: str, kind: str, qty: int, price: int | None = None) -> Order:
    """Submit the orders page's form; the new order row (still `new`: the queue sends it)."""
    before = set(Order.objects.values_list("pk", flat=True))
    page.goto(base + "/orders/")
    page.select_option("select[name=side]", side)
    page.fill("input[name=code]", CODE)
    page.select_option("select[name=order_type]", kind)
    page.fill("input[name=quantity]", str(qty))
    if price is not None:
        page.fill("input[name=price]", str(price))
    page.click("#order-submit")
    page.wait_for_url(base + "/orders/")
    return wait_until(lambda: Order.objects.exclude(pk__in=before).first())
