"""Split orders from the surfaces a trader uses: the API (`POST /api/v1/orders` with split fields,
`/api/v1/splits`), the orders page form and `manage.py order --split/--by-depth`, on the memory broker
with the orders queue run eagerly (the schedule itself is tested against the simulator in test_split)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.accounts.hooks import trades_open_orders
from apps.trades.models import Order, SplitOrder, SplitStatus

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {
    "code": "005930",
    "side": "buy",
    "quantity": 9,
    "price": 69_000,
    "split_parts": 3,
    "split_interval": 60,
}


@pytest.fixture
def trader_api(api_client, trader):
    api_client.force_authenticate(trader)
    return api_client


def test_api_split_is_idempotent_sends_the_first_child_and_cancels(
    trader_api, memory_broker, eager
) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    url = reverse("api-orders")
    first = trader_api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    again = trader_api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    assert first.status_code == again.status_code == 202, first.content
    body = first.json()
    assert body["id"] == again.json()["id"] and body["mode"] == "time" and body["parts"] == 3
    split = SplitOrder.objects.get()
    child = Order.objects.get(split=split)
    assert (child.quantity, child.price, child.split_index, child.status) == (
        3,
        69_000,
        0,
        "accepted",
    )
    assert sum(1 for name, _ in memory_broker.calls if name == "place_order") == 1
    assert trades_open_orders(split.account_no) == 2  # the live child and the running parent
    detail = trader_api.get(reverse("api-split", args=[split.pk])).json()
    assert [o["id"] for o in detail["orders"]] == [str(child.pk)]
    assert trader_api.get(reverse("api-splits")).json()["count"] == 1
    cancel_url = reverse("api-split-cancel", args=[split.pk])
    cancelled = trader_api.post(cancel_url, HTTP_IDEMPOTENCY_KEY="sc-1")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == SplitStatus.CANCELLED
    assert Order.objects.get(pk=child.pk).status == "cancelled"
    assert trader_api.post(cancel_url, HTTP_IDEMPOTENCY_KEY="sc-2").status_code == 409
    assert trades_open_orders(split.account_no) == 0


def test_api_depth_split_needs_a_limit_or_a_cap(trader_api) -> None:
    body = {**BODY, "order_type": "market", "price": None, "split_by_depth": True}
    response = trader_api.post(reverse("api-orders"), body, format="json", HTTP_IDEMPOTENCY_KEY="d")
    assert response.status_code == 400 and "split_by_depth" in response.json()
    assert not SplitOrder.objects.exists()


def test_viewer_cannot_split_or_cancel(api_client, viewer) -> None:
    api_client.force_authenticate(viewer)
    response = api_client.post(reverse("api-orders"), BODY, format="json", HTTP_IDEMPOTENCY_KEY="v")
    assert response.status_code == 403 and not SplitOrder.objects.exists()


def test_form_places_a_split_and_the_page_lists_it(trader_client, memory_broker, eager) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    data = {**BODY, "order_type": "limit", "token": "form-split-1"}
    for _ in range(2):  # a double click
        assert trader_client.post(reverse("trades:order-place"), data).status_code == 302
    split = SplitOrder.objects.get()
    assert split.children_sent == 1
    html = trader_client.get(reverse("trades:orders")).content.decode()
    assert f'data-split="{split.pk}"' in html and "분할 주문 취소" in html
    response = trader_client.post(
        reverse("trades:split-cancel", args=[split.pk]), {"token": "c-1"}, follow=True
    )
    assert response.status_code == 200
    assert SplitOrder.objects.get().status == SplitStatus.CANCELLED


def test_command_line_split_and_cancel(memory_broker, eager) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    out = StringIO()
    call_command(
        "order",
        "buy",
        "005930",
        "10",
        "--price",
        "69000",
        "--split",
        "2",
        "--interval",
        "30",
        stdout=out,
    )
    split = SplitOrder.objects.get()
    assert str(split.pk) in out.getvalue() and "split time" in out.getvalue()
    assert (split.parts, split.interval_seconds, split.children_sent) == (2, 30, 1)
    out = StringIO()
    call_command("order", "cancel", str(split.pk), stdout=out)
    assert SplitOrder.objects.get().status == SplitStatus.CANCELLED
    assert "cancelled" in out.getvalue()


def test_sweep_steps_every_open_parent_and_skips_ended_ones(memory_broker) -> None:
    from apps.trades.services.executor import OrderIntent
    from apps.trades.services.split import SplitRequest, split_create
    from apps.trades.tasks import split_sweep

    memory_broker.set_quote("005930", 70_000, "삼성전자")
    running, _ = split_create(
        SplitRequest(OrderIntent(code="005930", side="buy", quantity=4, price=69_000), parts=2)
    )
    ended, _ = split_create(
        SplitRequest(OrderIntent(code="005930", side="buy", quantity=4, price=68_000), parts=2)
    )
    SplitOrder.objects.filter(pk=ended.pk).update(status=SplitStatus.CANCELLED)
    assert split_sweep() == 1  # the same as a worker restarted: the schedule is in the database
    assert Order.objects.filter(split=running).count() == 1
    assert not Order.objects.filter(split=ended).exists()
    assert split_sweep() == 1
    assert Order.objects.filter(split=running).count() == 1  # the child is live: nothing more


def test_order_detail_links_a_split_child(trader_client, memory_broker, eager) -> None:
    memory_broker.set_quote("005930", 70_000, "삼성전자")
    data = {**BODY, "order_type": "limit", "token": "form-split-2"}
    trader_client.post(reverse("trades:order-place"), data)
    child = Order.objects.get()
    html = trader_client.get(reverse("trades:order", args=[child.pk])).content.decode()
    assert str(child.split_id) in html


def test_open_parents_end_with_the_session(memory_broker) -> None:
    from apps.trades.services import orders_expire
    from apps.trades.services.executor import OrderIntent
    from apps.trades.services.split import SplitRequest, split_create, split_step, splits_expire

    memory_broker.set_quote("005930", 70_000, "삼성전자")
    parent, _ = split_create(
        SplitRequest(OrderIntent(code="005930", side="buy", quantity=4, price=69_000), parts=2)
    )
    split_step(parent.pk)
    assert splits_expire() == 0  # its child is still live
    assert orders_expire(memory_broker) == 1
    assert splits_expire() == 1
    parent.refresh_from_db()
    assert parent.status == SplitStatus.COMPLETED and parent.message == "장 마감"
    assert split_step(parent.pk).children_sent == 1  # ended: no further child


def test_the_step_task_chains_itself_to_the_next_due_moment(memory_broker, monkeypatch) -> None:
    from apps.trades import tasks
    from apps.trades.services.executor import OrderIntent
    from apps.trades.services.split import SplitRequest, split_create

    memory_broker.set_quote("005930", 70_000, "삼성전자")
    parent, _ = split_create(
        SplitRequest(
            OrderIntent(code="005930", side="buy", quantity=4, price=69_000),
            parts=2,
            interval_seconds=60,
            chase_seconds=20,
        )
    )
    queued: list[tuple[tuple, float]] = []
    monkeypatch.setattr(
        tasks.split_step, "apply_async", lambda args, countdown: queued.append((args, countdown))
    )
    assert tasks.split_step(str(parent.pk)) == SplitStatus.RUNNING
    ((args, countdown),) = queued
    assert args == (str(parent.pk),)
    assert 19 <= countdown <= 20  # the live child's chase is due first (wall clock: speed 1)
