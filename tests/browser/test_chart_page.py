"""The per-stock chart page in headless Chromium: the vendored library draws the day's candles, VWAP, the
opening range and the entry/exit/signal markers; a bar closed by the live minute-bars path
(`LiveBars.flush` → `bar_update` on /ws/live) and a new fill (`order_filled`) appear without a reload."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.conditions.tests.live_support import in_thread
from apps.core.live import live_flush, publish_now
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.market.live import LiveBars
from apps.market.tests.factories import SignalFactory
from apps.market.tests.test_api import make_day
from apps.market.tests.test_live import FakeTick
from apps.market.views import CHART_LIBRARY
from apps.trades.tests.factories import OrderFactory
from apps.trades.tests.ui_factories import FillFactory
from krx import KST

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CODE = "005930"
DAY = dt.date(2025, 2, 3)


def kst(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hh, mm, ss), tzinfo=KST)


def _fill(
    side: str, at: dt.datetime, price: int, qty: int = 10, tag: str = "opening_leader"
) -> None:
    order = OrderFactory(
        code=CODE, side=side, strategy_tag=tag, cause="signal", filled_quantity=qty
    )
    FillFactory(order=order, quantity=qty, cum_quantity=qty, price=Decimal(price),
                amount=price * qty, cum_amount=price * qty, executed_at=at)  # fmt: skip


def _close_a_live_bar() -> None:
    """What the realtime hub's minute-bars handler does: ticks → a closed bar → write → push."""
    live = LiveBars()
    live.on_trade(FakeTick(CODE, kst(9, 30, 10), 71_000, 50, None))
    live.on_trade(FakeTick(CODE, kst(9, 30, 40), 71_200, 30, None))
    live.on_clock(kst(9, 31))
    live.flush()
    live_flush()


def _new_fill_pushed() -> None:
    _fill("sell", kst(9, 30, 20), 71_100, tag="")
    publish_now("order_filled", {"order_id": "x", "code": CODE, "price": 71_100})


def test_chart_draws_bars_markers_and_follows_live_bars_and_fills(browser, asgi_server) -> None:
    make_day(minutes=30)  # 09:01 … 09:30
    _fill("buy", kst(9, 5, 10), 70_500)
    _fill("sell", kst(9, 20, 30), 70_300)
    SignalFactory(at=kst(9, 5, 3))
    UserFactory(username="viewer-chart", role="viewer")

    page = browser.new_page()
    page.goto(asgi_server + f"/chart/{CODE}/?date=2025-02-03")
    page.fill("input[name=username]", "viewer-chart")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(asgi_server + f"/chart/{CODE}/?date=2025-02-03")
    page.wait_for_selector("#chart[data-state=ready]", timeout=15_000)

    # The library came from our static files, and drew into canvases.
    assert page.evaluate("window.LightweightCharts.version()") == "5.2.1"
    loaded = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    assert any(url.endswith("/static/" + CHART_LIBRARY) for url in loaded), loaded
    assert page.locator("#chart canvas").count() > 0
    chart = page.locator("#chart")
    assert chart.get_attribute("data-bars") == "30"
    assert chart.get_attribute("data-markers") == "3"  # the signal, the entry, the exit
    assert page.locator("#markers tbody tr.marker").count() == 3
    kinds = page.locator("#markers tbody tr.marker").evaluate_all(
        "rs => rs.map(r => r.dataset.kind)"
    )
    assert kinds == ["signal", "entry", "exit"]
    assert chart.get_attribute("data-or-high") == "70500"  # first five bars' high
    assert page.locator("#legend-vwap").inner_text() != "-"
    assert page.evaluate("window.stockChart.state.bars[29].vwap") is not None

    # Live: a bar closed by the realtime path appears, and so does a new fill's marker.
    page.wait_for_selector("#live-indicator.on", timeout=10_000)
    page.evaluate("window.__sameDocument = true")
    in_thread(_close_a_live_bar)
    page.wait_for_selector("#chart[data-bars='31']", timeout=10_000)
    assert chart.get_attribute("data-last-bar") == "2025-02-03T09:31:00+09:00"
    last = page.evaluate("window.stockChart.state.bars[30]")
    assert (last["open"], last["high"], last["low"], last["close"], last["volume"]) == (
        71_000, 71_200, 71_000, 71_200, 80,
    )  # fmt: skip
    in_thread(_new_fill_pushed)
    page.wait_for_selector("#chart[data-markers='4']", timeout=10_000)
    assert page.locator("#markers tbody tr.marker").count() == 4
    assert page.evaluate("window.__sameDocument") is True  # no reload
    page.close()
