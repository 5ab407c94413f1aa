"""The trading pages: orders (filters, journal, manual forms for traders only), positions, trades."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from apps.trades.models import Order
from apps.trades.tests.factories import OrderFactory, PositionFactory
from apps.trades.tests.ui_factories import FillFactory, TradeFactory

pytestmark = pytest.mark.django_db


def test_orders_page_for_a_viewer_has_no_forms(
    viewer_client, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        OrderFactory()
    with django_assert_max_num_queries(12):
        html = viewer_client.get(reverse("trades:orders")).content.decode()
    assert html.count("data-order=") == 5
    assert 'id="order-form"' not in html and 'class="cancel"' not in html


def test_orders_page_for_a_trader(trader_client) -> None:
    OrderFactory(status="accepted")
    html = trader_client.get(reverse("trades:orders")).content.decode()
    assert 'id="order-form"' in html and 'class="cancel"' in html


def test_orders_filters_and_partial(viewer_client) -> None:
    OrderFactory(status="accepted", code="005930")
    OrderFactory(status="cancelled", code="000660")
    html = viewer_client.get(reverse("trades:orders"), {"status": "open"}).content.decode()
    assert html.count("data-order=") == 1 and "005930" in html
    partial = viewer_client.get(
        reverse("trades:orders"), {"code": "000660", "partial": "1"}
    ).content.decode()
    assert partial.count("data-order=") == 1 and "<html" not in partial
    bad = viewer_client.get(reverse("trades:orders"), {"from": "nope"}).content.decode()
    assert 'class="error"' in bad


def test_order_detail_shows_journal_and_fills(viewer_client) -> None:
    fill = FillFactory()
    from apps.trades.services.state import journal

    journal(fill.order, "accepted", "filled", "fill", "체결")
    html = viewer_client.get(reverse("trades:order", args=[fill.order_id])).content.decode()
    assert 'id="transitions"' in html and "E0" in html and "700,000원" in html


def test_viewer_cannot_post_orders(viewer_client) -> None:
    order = OrderFactory()
    data = {
        "side": "buy",
        "code": "005930",
        "order_type": "limit",
        "quantity": 1,
        "price": 1,
        "token": "t",
    }
    assert viewer_client.post(reverse("trades:order-place"), data).status_code == 403
    assert (
        viewer_client.post(
            reverse("trades:order-cancel", args=[order.pk]), {"token": "t"}
        ).status_code
        == 403
    )
    assert (
        viewer_client.post(
            reverse("trades:order-amend", args=[order.pk]), {"price": 1, "token": "t"}
        ).status_code
        == 403
    )
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_double_click_makes_one_order(trader_client, memory_broker, eager) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    data = {
        "side": "buy",
        "code": "005930",
        "order_type": "limit",
        "quantity": 1,
        "price": 70_000,
        "token": "form-token-1",
    }
    first = trader_client.post(reverse("trades:order-place"), data)
    second = trader_client.post(reverse("trades:order-place"), data)
    assert first.status_code == second.status_code == 302
    assert Order.objects.count() == 1
    assert sum(1 for name, _ in memory_broker.calls if name == "place_order") == 1


def test_refused_order_shows_the_reason(trader_client) -> None:
    data = {"side": "buy", "code": "005930", "order_type": "limit", "quantity": 1, "token": "t2"}
    response = trader_client.post(reverse("trades:order-place"), data, follow=True)
    assert not Order.objects.exists() and "price" in response.content.decode()


def test_positions_page(viewer_client) -> None:
    PositionFactory(code="005930", quantity=10, cost_amount=700_000, current_price=72_000)
    html = viewer_client.get(reverse("trades:positions")).content.decode()
    assert 'data-code="005930"' in html and "20,000원" in html and 'data-cost="700000"' in html


def test_trades_page_filters_sort_pages(viewer_client, django_assert_max_num_queries) -> None:
    TradeFactory(date=dt.date(2025, 2, 3), pnl=-5_000, strategy_tag="a")
    TradeFactory(date=dt.date(2025, 2, 4), pnl=9_000, strategy_tag="b")
    with django_assert_max_num_queries(12):
        html = viewer_client.get(reverse("trades:trades"), {"sort": "-pnl"}).content.decode()
    assert html.index("9,000원") < html.index("-5,000원")
    html = viewer_client.get(reverse("trades:trades"), {"strategy": "a"}).content.decode()
    assert html.count("data-trade=") == 1
    html = viewer_client.get(reverse("trades:trades"), {"from": "2025-02-04"}).content.decode()
    assert html.count("data-trade=") == 1


def test_trades_page_refreshes_its_rows_on_fills(viewer_client) -> None:
    """The trade log is live: the table reloads its rows (?partial=1, same filters) on `order_filled`."""
    html = viewer_client.get(reverse("trades:trades")).content.decode()
    assert 'id="trades" data-live-refresh="order_filled"' in html and "trades/trading.js" in html
    TradeFactory(date=dt.date(2025, 2, 3), strategy_tag="a")
    TradeFactory(date=dt.date(2025, 2, 4), strategy_tag="b")
    rows = viewer_client.get(reverse("trades:trades"), {"partial": "1", "strategy": "b"})
    body = rows.content.decode()
    assert body.count("data-trade=") == 1 and "<table" not in body and "<html" not in body


def test_nav_links(viewer_client) -> None:
    html = viewer_client.get(reverse("home")).content.decode()
    for name in ("trades:orders", "trades:positions", "trades:trades", "accounts:settings"):
        assert f'href="{reverse(name)}"' in html
