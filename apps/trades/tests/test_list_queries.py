"""Lists at real size (issue 17): the orders, positions and trade pages and the orders, fills, splits and
trades APIs make the same number of queries for 3 rows as for 30, and their pages are bounded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from apps.core.pagination import CappedPaginator
from apps.core.tests.querycount import assert_flat_queries
from apps.strategy.tests.factories import SignalFactory
from apps.trades.models import SplitOrder
from apps.trades.tests.factories import OrderFactory, PositionFactory
from apps.trades.tests.ui_factories import FillFactory, TradeFactory
from krx import KST

pytestmark = pytest.mark.django_db


def _orders(n: int) -> None:
    for i in range(n):
        parent = OrderFactory(status="replaced")
        OrderFactory(status="accepted" if i % 2 else "filled", parent=parent, kind="amend")


def _trades(n: int) -> None:
    for _ in range(n):
        exit_order = OrderFactory(side="sell", status="filled")
        trade = TradeFactory(exit_order=exit_order)
        day = trade.entry_time.astimezone(KST).date()
        SignalFactory(
            code=trade.code,
            day=day,
            at=trade.entry_time - dt.timedelta(minutes=1),
            key=f"e{trade.pk}",
            status="accepted",
            order=OrderFactory(),
        )
        SignalFactory(side="sell", key=f"x{trade.pk}", order=exit_order, day=day)


def _fills(n: int) -> None:
    for _ in range(n):
        FillFactory()


def _positions(n: int, start: int) -> None:
    for i in range(start, start + n):
        PositionFactory(code=f"{i:06d}")


def _splits(n: int) -> None:
    for _ in range(n):
        split = SplitOrder.objects.create(
            account_no="1", code="005930", side="buy", mode="time", quantity=10, parts=2
        )
        OrderFactory(split=split, split_index=1, kind="split")


@pytest.mark.parametrize(
    ("url", "make", "ceiling"),
    [
        (reverse("trades:orders"), _orders, 14),
        (reverse("trades:orders") + "?partial=1&status=open", _orders, 10),
        (reverse("trades:trades"), _trades, 12),
        (reverse("trades:trades") + "?sort=-pnl&code=005930", _trades, 12),
        (reverse("api-trades"), _trades, 6),
        (reverse("api-orders"), _orders, 6),
        (reverse("api-orders") + "?status=open&side=buy", _orders, 6),
        (reverse("api-fills"), _fills, 6),
        (reverse("api-fills") + "?code=005930", _fills, 6),
        (reverse("api-splits"), _splits, 6),
    ],
)
def test_list_queries_do_not_grow_with_rows(
    trader_client, django_assert_max_num_queries, url, make, ceiling
) -> None:
    make(3)
    assert_flat_queries(
        lambda: trader_client.get(url), lambda: make(27), ceiling, django_assert_max_num_queries
    )


@pytest.mark.parametrize(
    "url", [reverse("trades:positions"), reverse("trades:positions") + "?partial=1"]
)
def test_positions_page_queries_do_not_grow(
    trader_client, django_assert_max_num_queries, url
) -> None:
    _positions(3, 1)
    assert_flat_queries(
        lambda: trader_client.get(url),
        lambda: _positions(27, 100),
        10,
        django_assert_max_num_queries,
    )


def test_api_page_size_is_bounded_and_count_capped(trader_client, settings) -> None:
    settings.LIST_COUNT_CAP = 5
    _orders(4)  # 8 orders
    body = trader_client.get(reverse("api-orders"), {"page_size": 10_000}).json()
    assert body["count"] == 5 and body["count_exact"] is False
    assert len(body["results"]) == 5  # the one page that holds the capped count
    body = trader_client.get(reverse("api-orders"), {"page_size": 2, "page": 3}).json()
    assert len(body["results"]) == 1 and body["next"] is None
    assert trader_client.get(reverse("api-orders"), {"page_size": 2, "page": 4}).status_code == 404
    exact = trader_client.get(reverse("api-orders"), {"status": "open"}).json()
    assert exact["count"] == 2 and exact["count_exact"] is True


def test_page_shows_a_capped_count(trader_client, settings) -> None:
    settings.LIST_COUNT_CAP = 60
    for _ in range(70):
        OrderFactory()
    html = trader_client.get(reverse("trades:orders")).content.decode()
    assert "1 / 2+ (60+)" in html


def test_capped_paginator_counts_with_one_bounded_query(django_assert_num_queries) -> None:
    _orders(3)
    from apps.trades.models import Order

    paginator = CappedPaginator(Order.objects.order_by("-created_at"), 2, cap=4)
    with django_assert_num_queries(1) as ctx:
        assert paginator.count == 4 and not paginator.count_exact
    assert "LIMIT 5" in ctx.captured_queries[0]["sql"]
    assert CappedPaginator(list(range(3)), 2, cap=4).count_exact


@pytest.mark.parametrize(
    ("model", "make"), [("order", _orders), ("fill", _fills), ("trade", _trades)]
)
def test_admin_changelists_do_not_grow(
    admin_client, django_assert_max_num_queries, model, make
) -> None:
    make(3)
    url = reverse(f"admin:trades_{model}_changelist")
    assert_flat_queries(
        lambda: admin_client.get(url), lambda: make(27), 12, django_assert_max_num_queries
    )


def test_admin_changelist_count_is_capped(admin_client, settings) -> None:
    settings.LIST_COUNT_CAP = 4
    _orders(3)
    html = admin_client.get(reverse("admin:trades_order_changelist")).content.decode()
    assert "4 " in html and "6 " not in html.split('class="paginator"')[1][:200]


def test_a_fill_carries_its_orders_code(trader_client) -> None:
    from apps.trades.services.books import fill_apply

    order = OrderFactory(code="000660", quantity=10)
    fill = fill_apply(order.pk, cum_quantity=4, cum_amount=4 * 70_000)
    assert fill is not None and fill.code == "000660"
    body = trader_client.get(reverse("api-fills"), {"code": "000660"}).json()
    assert [row["code"] for row in body["results"]] == ["000660"]
