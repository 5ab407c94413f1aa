"""`order_update` on /ws/live: every saved change of an order is pushed after its commit — not before,
not on a rollback — with the documented shape, and through the real channel layer."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction

from apps.broker.contract import OrderAck
from apps.core.live import LIVE_GROUP
from apps.trades.models import OrderStatus
from apps.trades.services import order_record, transition

from .factories import OrderFactory

KEYS = {
    "order_id",
    "code",
    "side",
    "status",
    "quantity",
    "filled_qty",
    "avg_price",
    "broker_order_no",
    "updated_at",
}


@pytest.fixture
def pushed(monkeypatch) -> list[tuple[str, dict, object]]:
    sent: list[tuple[str, dict, object]] = []
    monkeypatch.setattr(
        "apps.core.live.publish_soon",
        lambda t, d, g=LIVE_GROUP, key=None: sent.append((t, d, key)),
    )
    return sent


@pytest.mark.django_db
def test_state_change_pushes_after_commit_only(pushed, django_capture_on_commit_callbacks) -> None:
    order = OrderFactory(status=OrderStatus.SUBMITTED, broker_order_no="")
    with django_capture_on_commit_callbacks(execute=True):
        order_record(order.pk, OrderAck(order_no="0000123", exchange="KRX"))
        assert pushed == []  # not before the commit
    updates = [d for t, d, _ in pushed if t == "order_update"]
    assert updates, pushed
    last = updates[-1]
    assert set(last) == KEYS
    assert last["order_id"] == str(order.pk)
    assert last["status"] == OrderStatus.ACCEPTED
    assert last["broker_order_no"] == "0000123"
    assert last["filled_qty"] == 0 and last["avg_price"] is None
    assert {key for t, _, key in pushed} == {
        str(order.pk)
    }  # keyed: a newer one replaces an unsent one


@pytest.mark.django_db
def test_rolled_back_change_pushes_nothing(pushed, django_capture_on_commit_callbacks) -> None:
    order = OrderFactory(status=OrderStatus.ACCEPTED)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                transition(order, OrderStatus.CANCELLED, cause="test")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == [] and pushed == []


@pytest.mark.django_db(transaction=True)
async def test_order_update_reaches_the_live_group() -> None:
    # The real path: commit → background publisher → Redis channel layer → a member of the live group.
    from channels.layers import channel_layers, get_channel_layer

    channel_layers.backends.clear()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(LIVE_GROUP, channel)
    try:
        order = await sync_to_async(OrderFactory)(status=OrderStatus.ACCEPTED)

        def cancel() -> None:
            with transaction.atomic():
                locked = type(order).objects.select_for_update().get(pk=order.pk)
                transition(locked, OrderStatus.CANCELLED, cause="test")

        await sync_to_async(cancel)()
        while True:
            message = await asyncio.wait_for(layer.receive(channel), 5)
            if message["event"]["type"] == "order_update":
                break
        data = message["event"]["data"]
        assert data["order_id"] == str(order.pk) and data["status"] == OrderStatus.CANCELLED
        assert set(data) == KEYS
    finally:
        await layer.group_discard(LIVE_GROUP, channel)
        await sync_to_async(connections.close_all)()
        channel_layers.backends.clear()
