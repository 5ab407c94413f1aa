"""The trades handler in the real realtime hub against the simulator: the async executor path, 00 frames
into the books, a dropped socket repaired by the reconnect's reconciliation."""

from __future__ import annotations

import asyncio

import pytest

from apps.conditions.tests.live_support import at, realtime_hub, simulated_broker, wait_until
from apps.risk.testing import seed_base_price
from apps.trades.models import Order, OrderStatus, Position, ReconciliationRun
from apps.trades.realtime_handlers import TradesHandler
from apps.trades.services import OrderIntent, order_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_hub_submit_fills_and_reconnect(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with (
        simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers={"trades": TradesHandler}) as rt,
    ):
        handler = rt.hub.handler("trades")
        assert isinstance(handler, TradesHandler)
        # Startup reconciliation ran (nothing to find).
        wait_until(lambda: ReconciliationRun.objects.filter(trigger="startup").exists())
        seed_base_price(
            "005930", broker.quote("005930").base_price or 70_000
        )  # values the market buy
        intent = OrderIntent(
            code="005930", side="buy", quantity=3, order_type="market", account_no=sim.account
        )
        future = asyncio.run_coroutine_threadsafe(handler.submit(intent), rt.loop)
        order = future.result(30)
        assert order.status == OrderStatus.ACCEPTED and order.broker_order_no
        sim.advance_sync(seconds=2)
        wait_until(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.FILLED)
        assert Position.objects.get(code="005930").quantity == 3
        # Drop the socket, fill an order while it is down: the reconnect's reconciliation finds it.
        sim.call(sim.faults.drop_websockets)
        sell = order_submit(
            OrderIntent(
                code="005930", side="sell", quantity=3, order_type="market", account_no=sim.account
            ),
            broker.place_order,
        )
        sim.advance_sync(seconds=2)
        wait_until(lambda: Order.objects.get(pk=sell.pk).status == OrderStatus.FILLED, timeout=30)
        wait_until(
            lambda: ReconciliationRun.objects.filter(trigger="reconnect").exists(), timeout=30
        )
        assert Position.objects.get(code="005930").quantity == 0
        run = ReconciliationRun.objects.filter(trigger="reconnect").latest("started_at")
        assert run.ok, run.differences
        assert handler.health()["errors"] == 0
