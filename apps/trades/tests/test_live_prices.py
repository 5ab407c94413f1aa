"""Live prices of held positions: typed 0B ticks → throttled `price_update` / `position_update` and
`Position.current_price` written at the slower cadence (a fake clock: nothing waits on real time)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apps.broker.backends.memory import MemoryBroker
from apps.broker.kiwoom.events import make_order_event, make_tick
from apps.realtime.handlers import HubContext
from apps.trades.live_prices import Holding, LivePrices
from apps.trades.models import Position
from apps.trades.realtime_handlers import TradesHandler
from apps.trades.tests.factories import PositionFactory
from krx import KST

AT = dt.datetime(2025, 2, 4, 9, 1, tzinfo=KST)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        self.messages.append((event_type, data))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        out, self.messages = self.messages, []
        return out


def tick(code: str, price: int, volume: int) -> Any:
    return make_tick(code, price, 1, AT, cum_volume=volume)


async def test_pushes_are_throttled_per_code_with_the_latest_numbers() -> None:
    clock, sent = Clock(), Sent()
    live = LivePrices(push_seconds=0.5, publish=sent, clock=clock)
    # 10 shares bought for 700,000 plus 105 commission.
    live.set_holdings({"005930": Holding(10, 700_105), "000660": Holding(2, 400_000)})
    assert live.codes() == {"005930", "000660"}

    live.on_tick(tick("005930", 71_000, 12_345))
    live.on_tick(tick("035720", 50_000, 9))  # not held: ignored
    assert await live.publish_due() is None
    assert sent.take() == [
        ("price_update", {"code": "005930", "price": 71_000, "volume": 12_345}),
        ("position_update", {"code": "005930", "qty": 10, "pnl": 710_000 - 700_105}),
    ]

    # Within the window: coalesced, nothing sent, and the pump is told when the window ends.
    clock.now += 0.1
    live.on_tick(tick("005930", 71_500, 12_400))
    live.on_tick(tick("005930", 70_900, 12_410))
    live.on_tick(tick("000660", 201_000, 77))  # another code has its own window
    assert await live.publish_due() == pytest.approx(0.4)
    assert sent.take() == [
        ("price_update", {"code": "000660", "price": 201_000, "volume": 77}),
        ("position_update", {"code": "000660", "qty": 2, "pnl": 2_000}),
    ]

    clock.now += 0.3
    assert await live.publish_due() == pytest.approx(0.1)
    assert sent.take() == []
    clock.now += 0.1  # the window is over: the latest values, once (nothing new for 000660)
    assert await live.publish_due() is None
    assert sent.take() == [
        ("price_update", {"code": "005930", "price": 70_900, "volume": 12_410}),
        ("position_update", {"code": "005930", "qty": 10, "pnl": 709_000 - 700_105}),
    ]
    # No new tick: nothing more, however long.
    clock.now += 10
    assert await live.publish_due() is None and sent.take() == []

    # A fill changes the holding: the new pnl goes out at the same price; a closed code is dropped.
    live.set_holdings({"005930": Holding(15, 1_055_000)})
    assert live.codes() == {"005930"}
    await live.publish_due()
    assert sent.take()[1] == (
        "position_update",
        {"code": "005930", "qty": 15, "pnl": 70_900 * 15 - 1_055_000},
    )
    live.on_tick(tick("000660", 202_000, 80))
    clock.now += 1
    await live.publish_due()
    assert sent.take() == []
    assert live.stats.price_updates == 4 and live.stats.ticks == 4  # held codes only


@pytest.mark.django_db(transaction=True)
async def test_handler_wants_held_codes_pushes_and_persists_slowly(settings) -> None:  # type: ignore[no-untyped-def]
    from asgiref.sync import sync_to_async

    await sync_to_async(PositionFactory)(
        account_no=settings.KIWOOM_ACCOUNT, code="005930", quantity=10, cost_fees=100
    )
    await sync_to_async(PositionFactory)(
        account_no=settings.KIWOOM_ACCOUNT, code="000660", quantity=0
    )
    clock, sent = Clock(), Sent()
    ctx = HubContext(MemoryBroker(), options={"price_push_ms": 500, "price_persist_seconds": 5})
    handler = TradesHandler(ctx, publish=sent, clock=clock)

    await handler.on_cycle()
    wants = await handler.wants()
    assert wants.ticks == {"005930"} and wants.account

    await handler.on_event(tick("005930", 71_000, 100))
    await handler.prices.publish_due()
    for price in (71_100, 71_200):
        await handler.on_event(tick("005930", price, 100))
    await handler.prices.publish_due()
    assert sent.take() == [
        ("price_update", {"code": "005930", "price": 71_000, "volume": 100}),
        ("position_update", {"code": "005930", "qty": 10, "pnl": 710_000 - 700_100}),
    ]
    clock.now += 0.5
    await handler.prices.publish_due()
    assert [m[1]["price"] for m in sent.take() if m[0] == "price_update"] == [71_200]

    # Persisted only once the slower cadence is due, then the latest price.
    await handler.on_cycle()
    position = await Position.objects.aget(code="005930")
    assert position.current_price is None
    clock.now += 5
    await handler.on_cycle()
    position = await Position.objects.aget(code="005930")
    assert position.current_price == 71_200
    assert position.unrealized_pnl == 712_000 - 700_100
    assert handler.health()["prices_saved"] == 1


@pytest.mark.django_db(transaction=True)
async def test_a_fill_subscribes_the_new_position_at_once(settings) -> None:  # type: ignore[no-untyped-def]
    """The 00 frame that opens a position re-reads the holdings: the next `wants()` names its code."""
    from asgiref.sync import sync_to_async

    from apps.broker.contract.types import OrderStatus, Side
    from apps.trades.tests.factories import OrderFactory

    order = await sync_to_async(OrderFactory)(
        side="buy", quantity=3, price=70_000, broker_order_no="0000123", status="accepted"
    )
    handler = TradesHandler(HubContext(MemoryBroker()), publish=Sent(), clock=Clock())
    await handler.on_cycle()
    assert (await handler.wants()).ticks == frozenset()
    event = make_order_event(
        order.broker_order_no,
        order.code,
        OrderStatus.FILLED,
        Side.BUY,
        3,
        70_000,
        0,
        AT,
        fill_price=70_000,
        fill_quantity=3,
        filled_quantity=3,
    )
    await handler.on_event(event)
    assert (await handler.wants()).ticks == {order.code}
