"""The risk exits handler's bookkeeping with a fake broker call (no simulator): one exit in flight per
position however many ticks come, a refused exit retried after its backoff, a partial fill's remainder
exited, the highs since entry kept across a restart, the time exit from the timer without ticks."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import CancelAck, OrderAck, OrderRejected
from apps.broker.kiwoom.events import make_tick
from apps.realtime.handlers import HubContext
from apps.risk.policy import ExitPolicy, set_exit_policy_provider
from apps.risk.realtime_handlers import RiskExitsHandler
from apps.trades.models import Cause, Order, OrderStatus, Position
from apps.trades.services.aorder import aorder_db_close
from apps.trades.tests.factories import PositionFactory
from krx import KST

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "005930"
DAY = dt.date(2025, 2, 4)
AT = dt.datetime(2025, 2, 4, 10, 0, tzinfo=KST)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Place:
    """The async place call: records each order; answers with an ack or the next queued error."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.errors: list[Exception] = []

    async def __call__(self, **kwargs: Any) -> OrderAck:
        self.calls.append(kwargs)
        await asyncio.sleep(0.01)  # on the wire a while: ticks keep coming meanwhile
        if self.errors:
            raise self.errors.pop(0)
        return OrderAck(order_no=f"{len(self.calls):07d}", exchange="KRX")


@pytest.fixture(autouse=True)
async def _close_order_thread():  # type: ignore[no-untyped-def]
    yield
    await aorder_db_close()  # the executor's own database thread keeps a connection otherwise


@pytest.fixture(autouse=True)
def policy():  # type: ignore[no-untyped-def]
    set_exit_policy_provider(
        lambda: ExitPolicy(
            stop_loss_pct=Decimal("-3"),
            trailing_stop_pct=Decimal("2"),
            exit_before_close_minutes=10,
        )
    )
    yield
    set_exit_policy_provider(None)


def handler(place: Place, clock: Clock, **options: Any) -> RiskExitsHandler:
    ctx = HubContext(MemoryBroker(), {"risk_place": place, "risk_exit_retry_base": 2.0, **options})
    return RiskExitsHandler(ctx, clock=clock, exchange_reading=lambda: (AT, 1.0))


async def position(qty: int = 10, avg: int = 70_000, entry: dt.datetime | None = AT) -> Position:
    return await sync_to_async(PositionFactory)(
        account_no=settings.KIWOOM_ACCOUNT,
        quantity=qty,
        avg_price=avg,
        cost_amount=qty * avg,
        entry_time=entry,
    )


async def settle(risk: RiskExitsHandler) -> None:
    while risk._tasks:
        await asyncio.gather(*list(risk._tasks))


def tick(price: int, at: dt.datetime = AT) -> Any:
    return make_tick(CODE, price, 1, at)


async def test_one_exit_in_flight_however_many_ticks() -> None:
    place, clock = Place(), Clock()
    await position()
    risk = handler(place, clock)
    await risk.refresh()
    assert (await risk.wants()).ticks == {CODE}
    for price in (67_900, 67_800, 67_000, 66_000):  # all under the -3% stop (67,900)
        await risk.on_event(tick(price))
    await settle(risk)
    for price in (65_000, 64_000):  # still under it, the exit now accepted and resting
        await risk.on_event(tick(price))
    await settle(risk)
    assert len(place.calls) == 1
    order = await sync_to_async(Order.objects.get)()
    assert order.cause == Cause.RISK and order.cause_ref == "stop_loss"
    assert order.quantity == 10 and order.reserved_quantity == 10
    assert order.status == OrderStatus.ACCEPTED
    # A restart: the new handler sees no sellable quantity (the open exit holds it) and sends nothing.
    fresh = handler(place, clock)
    await fresh.refresh()
    await fresh.on_event(tick(60_000))
    await settle(fresh)
    assert len(place.calls) == 1


async def test_a_refused_exit_is_retried_after_its_backoff() -> None:
    place, clock = Place(), Clock()
    place.errors.append(OrderRejected("9999", "모의 거부"))
    await position()
    risk = handler(place, clock)
    await risk.refresh()
    await risk.on_event(tick(67_000))
    await settle(risk)
    assert len(place.calls) == 1
    assert await sync_to_async(Order.objects.get)(status=OrderStatus.REJECTED)
    await risk.refresh()  # the reservation was released with the rejection
    await risk.on_event(tick(66_900))
    await settle(risk)
    assert len(place.calls) == 1  # within the 2-s backoff
    clock.now += 2.5
    await risk.on_event(tick(66_800))
    await settle(risk)
    assert len(place.calls) == 2 and risk.stats.exits_retried == 1


async def test_a_partial_fill_remainder_is_exited() -> None:
    place, clock = Place(), Clock()
    pos = await position()
    risk = handler(place, clock)
    await risk.refresh()
    await risk.on_event(tick(67_000))
    await settle(risk)
    order = await sync_to_async(Order.objects.get)()

    def partly_filled_then_cancelled() -> None:
        # 4 of 10 sold, the rest cancelled: the books as the fills and the cancel leave them.
        Position.objects.filter(pk=pos.pk).update(quantity=6, reserved=0)
        Order.objects.filter(pk=order.pk).update(
            status=OrderStatus.CANCELLED, filled_quantity=4, reserved_quantity=0
        )

    await sync_to_async(partly_filled_then_cancelled)()
    await risk.refresh()
    clock.now += 10
    await risk.on_event(tick(66_500))
    await settle(risk)
    assert len(place.calls) == 2 and place.calls[1]["quantity"] == 6


async def test_highs_since_entry_survive_a_restart() -> None:
    place, clock = Place(), Clock()
    await position(avg=70_000)
    risk = handler(place, clock)
    await risk.refresh()
    for price in (71_000, 73_000, 72_500):
        await risk.on_event(tick(price))
    assert risk.highs[CODE] == 73_000
    await risk.persist_highs()
    restarted = handler(place, clock)
    await restarted.refresh()
    assert restarted.highs[CODE] == 73_000
    # 2% under 73,000 is 71,540: the trailing stop fires at once after the restart.
    await restarted.on_event(tick(71_500))
    await settle(restarted)
    assert len(place.calls) == 1
    order = await sync_to_async(Order.objects.get)()
    assert order.cause_ref == "trailing_stop"
    # A new position in the code (another entry time) does not inherit the old high.
    await sync_to_async(Position.objects.update)(entry_time=AT + dt.timedelta(hours=1))
    again = handler(place, clock)
    await again.refresh()
    assert CODE not in again.highs


async def test_time_exit_from_the_timer_without_ticks() -> None:
    place, clock = Place(), Clock()
    pos = await position()
    await sync_to_async(Position.objects.filter(pk=pos.pk).update)(current_price=69_000)
    late = dt.datetime.combine(DAY, dt.time(15, 21), tzinfo=KST)
    risk = handler(place, clock)
    risk._exchange_reading = lambda: (AT, 1.0)
    await risk.refresh()
    wait = await risk.time_check()
    assert not place.calls and 0 < wait <= 1.0
    risk._exchange_reading = lambda: (late, 1.0)
    await risk.time_check()
    await settle(risk)
    assert len(place.calls) == 1
    order = await sync_to_async(Order.objects.get)()
    assert order.cause_ref == "time_exit" and order.order_type == "limit"
    assert (
        order.price == 68_400 and order.reference_price == 69_000
    )  # 1% under the last known price


async def test_a_resting_exit_is_chased_when_the_market_falls_under_it() -> None:
    place, clock = Place(), Clock()
    cancels: list[str] = []

    def cancel(order_no: str, code: str, quantity: int = 0) -> CancelAck:
        cancels.append(order_no)
        return CancelAck(order_no=f"C{order_no}", original_order_no=order_no, quantity=10)

    await position()
    risk = handler(place, clock, risk_cancel=cancel, risk_exit_chase=3.0)
    await risk.refresh()
    await risk.on_event(tick(67_000))  # the stop: a sell at 66,400 (1% under, on the grid)
    await settle(risk)
    assert place.calls[0]["price"] == 66_400
    await risk.on_event(tick(66_000))  # under the limit, but not resting long enough yet
    await settle(risk)
    assert not cancels
    clock.now += 3.5
    await risk.on_event(tick(65_900))
    await settle(risk)
    assert cancels == ["0000001"] and risk.stats.exits_chased == 1
    first = await sync_to_async(Order.objects.get)(price=66_400)
    assert first.status == OrderStatus.CANCELLED
    await risk.on_event(tick(65_800))  # sent again at once (no backoff), at the new price
    await settle(risk)
    assert len(place.calls) == 2 and place.calls[1]["price"] == 65_200


async def test_each_cycle_evaluates_the_daily_loss_on_the_current_marks() -> None:
    """The handler's cycle moves the risk state on prices alone (no fill arrives)."""
    from apps.risk.models import RiskStatus, State
    from apps.risk.services.config import config_update

    await sync_to_async(config_update)(
        {"max_daily_loss_krw": 100_000, "max_daily_loss_pct": None}, user=None, reason="t"
    )
    held = await position(qty=10, avg=70_000)
    risk = handler(Place(), Clock())
    await risk.on_cycle()
    assert risk.stats.loss_state_changes == 0
    await Position.objects.filter(pk=held.pk).aupdate(current_price=59_000)  # -110k unrealised
    await risk.on_cycle()
    assert risk.stats.loss_state_changes == 1
    status = await RiskStatus.objects.aget(pk=1)
    assert status.state == State.HALTED


async def test_each_cycle_writes_the_stop_when_the_trailing_high_moves() -> None:
    place, clock = Place(), Clock()
    await position(avg=70_000)

    async def stop() -> int | None:
        return (await sync_to_async(Position.objects.get)(code=CODE)).stop_price

    risk = handler(place, clock)
    await risk.on_cycle()
    assert await stop() == 68_600  # no high yet: 2% under the average price
    for price in (71_000, 73_000, 72_500):
        await risk.on_event(tick(price))
    assert await stop() == 68_600  # never per tick
    await risk.on_cycle()
    assert await stop() == 71_500  # 73,000 × 0.98 = 71,540, on the 100-won grid
    await risk.on_cycle()  # nothing moved: nothing written
    assert risk.stats.stops_saved == 2
    # The stop shown is where the exit fires: one tick above it sells nothing, at it sells.
    await risk.on_event(tick(71_600))
    await settle(risk)
    assert place.calls == []
    await risk.on_event(tick(71_500))
    await settle(risk)
    assert len(place.calls) == 1
    assert (await sync_to_async(Order.objects.get)()).cause_ref == "trailing_stop"
