"""The read-only trades/orders/fills API (filters, pagination) and manual orders through it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from apps.trades.models import Order
from apps.trades.tests.factories import OrderFactory, PositionFactory
from apps.trades.tests.ui_factories import FillFactory, TradeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_api(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


@pytest.fixture
def trader_api(api_client, trader):
    api_client.force_authenticate(trader)
    return api_client


def test_trades_filters_sort_and_pages(viewer_api, django_assert_max_num_queries) -> None:
    TradeFactory(date=dt.date(2025, 2, 3), pnl=-5_000, code="000660", strategy_tag="a")
    TradeFactory(date=dt.date(2025, 2, 4), pnl=9_000, strategy_tag="b")
    TradeFactory(date=dt.date(2025, 2, 5), pnl=1_000, strategy_tag="b")
    url = reverse("api-trades")
    with django_assert_max_num_queries(4):
        body = viewer_api.get(url).json()
    assert body["count"] == 3 and body["results"][0]["date"] == "2025-02-05"
    assert [t["pnl"] for t in viewer_api.get(url, {"sort": "-pnl"}).json()["results"]] == [
        9_000,
        1_000,
        -5_000,
    ]
    assert viewer_api.get(url, {"from": "2025-02-04", "to": "2025-02-04"}).json()["count"] == 1
    assert viewer_api.get(url, {"code": "000660"}).json()["count"] == 1
    assert viewer_api.get(url, {"strategy": "b"}).json()["count"] == 2
    page = viewer_api.get(url, {"page_size": 2, "page": 2}).json()
    assert len(page["results"]) == 1 and page["previous"]


@pytest.mark.parametrize(
    "params", [{"from": "yesterday"}, {"code": "12"}, {"sort": "random"}, {"status": "nope"}]
)
def test_bad_filters_are_400(viewer_api, params) -> None:
    url = reverse("api-orders" if "status" in params else "api-trades")
    response = viewer_api.get(url, params)
    assert response.status_code == 400 and next(iter(params)) in response.json()


def test_trade_detail(viewer_api) -> None:
    trade = TradeFactory()
    body = viewer_api.get(reverse("api-trade", args=[trade.pk])).json()
    assert body["pnl"] == 8_000 and body["commission"] == 210 and body["tax"] == 1_420
    assert viewer_api.get(reverse("api-trade", args=[uuid.uuid4()])).status_code == 404


def test_orders_list_detail_and_fills(viewer_api) -> None:
    fill = FillFactory()
    OrderFactory(status="cancelled", side="sell")
    orders = viewer_api.get(reverse("api-orders"), {"status": "filled"}).json()
    assert orders["count"] == 1 and orders["results"][0]["id"] == str(fill.order_id)
    assert viewer_api.get(reverse("api-orders"), {"side": "sell"}).json()["count"] == 1
    detail = viewer_api.get(reverse("api-order", args=[fill.order_id])).json()
    assert detail["fills"][0]["quantity"] == 10 and "transitions" in detail
    fills = viewer_api.get(reverse("api-fills"), {"order": str(fill.order_id)}).json()
    assert fills["count"] == 1 and fills["results"][0]["commission"] == 105


def test_positions_come_from_the_books(viewer_api, settings) -> None:
    PositionFactory(code="005930", quantity=10, cost_amount=700_000, current_price=71_000)
    body = viewer_api.get(reverse("api-account-positions")).json()
    assert body["source"] == "positions"
    (row,) = body["results"]
    assert row["qty"] == 10 and row["price"] == 71_000 and row["pnl"] == 10_000


def test_viewer_cannot_order(viewer_api) -> None:
    response = viewer_api.post(
        reverse("api-orders"),
        {"code": "005930", "side": "buy", "quantity": 1, "price": 70_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="v-1",
    )
    assert response.status_code == 403 and not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_manual_buy_needs_a_key_and_is_idempotent(trader_api, memory_broker, eager) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    body = {"code": "005930", "side": "buy", "quantity": 3, "price": 70_000}
    url = reverse("api-orders")
    missing = trader_api.post(url, body, format="json")
    assert missing.status_code == 400 and not Order.objects.exists()
    first = trader_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    again = trader_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert Order.objects.count() == 1
    assert sum(1 for name, _ in memory_broker.calls if name == "place_order") == 1
    order = Order.objects.get()
    assert order.status == "accepted" and order.cause == "user" and order.created_by is not None


def test_manual_order_validation(trader_api) -> None:
    url = reverse("api-orders")
    response = trader_api.post(
        url,
        {"code": "005930", "side": "buy", "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x",
    )
    assert response.status_code == 400 and "price" in response.json()
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cancel_and_amend_once_per_key(trader_api, memory_broker, eager) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    placed = trader_api.post(
        reverse("api-orders"),
        {"code": "005930", "side": "buy", "quantity": 2, "price": 69_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="p-1",
    ).json()
    amend_url = reverse("api-order-amend", args=[placed["id"]])
    child = trader_api.post(amend_url, {"price": 69_500}, HTTP_IDEMPOTENCY_KEY="a-1")
    repeat = trader_api.post(amend_url, {"price": 69_500}, HTTP_IDEMPOTENCY_KEY="a-1")
    assert child.status_code == repeat.status_code == 200, child.content
    assert child.json()["id"] == repeat.json()["id"] and child.json()["price"] == 69_500
    assert sum(1 for name, _ in memory_broker.calls if name == "amend_order") == 1
    cancel_url = reverse("api-order-cancel", args=[child.json()["id"]])
    cancelled = trader_api.post(cancel_url, HTTP_IDEMPOTENCY_KEY="c-1")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert trader_api.post(cancel_url, HTTP_IDEMPOTENCY_KEY="c-1").json()["status"] == "cancelled"
    assert sum(1 for name, _ in memory_broker.calls if name == "cancel_order") == 1
    refused = trader_api.post(cancel_url, HTTP_IDEMPOTENCY_KEY="c-2")
    assert refused.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_manual_buy_goes_to_the_orders_queue(trader_api, monkeypatch) -> None:
    from apps.trades import tasks

    queued: list[str] = []
    monkeypatch.setattr(tasks.order_send, "delay", lambda order_id: queued.append(order_id))
    body = {"code": "005930", "side": "buy", "quantity": 1, "price": 70_000}
    for _ in range(2):
        reply = trader_api.post(
            reverse("api-orders"), body, format="json", HTTP_IDEMPOTENCY_KEY="q-1"
        )
        assert reply.status_code == 202 and reply.json()["status"] == "new"
    assert queued == [reply.json()["id"]]  # the retry neither creates nor queues again
