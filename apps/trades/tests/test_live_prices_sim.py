"""Live prices over the real hub and the simulator's sockets: a position opened by a fill gets its 0B
ticks subscribed, and a tick becomes `price_update` / `position_update` with the position's numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apps.broker.simulator.testing import SimHandle
from apps.conditions.tests.live_support import at, realtime_hub, simulated_broker, wait_until
from apps.realtime.handlers import HubContext
from apps.risk.testing import seed_base_price
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.realtime_handlers import TradesHandler
from apps.trades.services import OrderIntent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE = "005930"


def publish_tick(sim: SimHandle, price: int, cum_volume: int) -> None:
    values = {"20": "090600", "10": f"+{price}", "15": "+10", "13": str(cum_volume)}
    sim.call(sim.server.hub.publish, "0B", CODE, values)


def test_a_held_position_gets_price_updates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict[str, Any]]] = []

    async def publish(event_type: str, data: dict[str, Any]) -> None:
        sent.append((event_type, data))

    def trades(ctx: HubContext) -> TradesHandler:
        return TradesHandler(ctx, publish=publish)

    with (
        simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers={"trades": trades}, price_push_ms=50) as rt,
    ):
        handler = rt.hub.handler("trades")
        assert isinstance(handler, TradesHandler)
        seed_base_price(CODE, broker.quote(CODE).base_price or 70_000)  # values the market buy
        intent = OrderIntent(
            code=CODE, side="buy", quantity=3, order_type="market", account_no=sim.account
        )
        order = asyncio.run_coroutine_threadsafe(handler.submit(intent), rt.loop).result(30)
        sim.advance_sync(seconds=2)
        wait_until(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.FILLED)
        # The fill opened the position: its ticks are subscribed at the socket.
        wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
        position = Position.objects.get(code=CODE)
        cost = position.cost_amount + position.cost_fees

        publish_tick(sim, 91_000, 123_456)

        def price_update() -> dict[str, Any] | None:
            return next(
                (d for t, d in list(sent) if t == "price_update" and d["price"] == 91_000), None
            )

        assert wait_until(price_update) == {"code": CODE, "price": 91_000, "volume": 123_456}
        assert ("position_update", {"code": CODE, "qty": 3, "pnl": 91_000 * 3 - cost}) in sent
        assert handler.health()["errors"] == 0
