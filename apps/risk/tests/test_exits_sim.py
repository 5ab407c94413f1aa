"""Exits on live prices in the real realtime hub against the simulator: a position whose price falls
through its stop is sold exactly once (one sell at the simulator however many ticks stay below the stop),
the first trade at or under the stop price the position shows (`Position.stop_price`),
and the time exit fires from the exchange-clock timer."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from apps.conditions.tests.live_support import DAY, at, realtime_hub, simulated_broker, wait_until
from apps.risk.exits import effective_stop
from apps.risk.policy import ExitPolicy, exit_policy, set_exit_policy_provider
from apps.risk.realtime_handlers import RiskExitsHandler
from apps.trades.models import Cause, Order, OrderStatus, Position
from apps.trades.realtime_handlers import TradesHandler
from apps.trades.services import OrderIntent

from .sim_support import falling_prices, steer_tape

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE = "005930"


@pytest.fixture
def policy():  # type: ignore[no-untyped-def]
    def use(p: ExitPolicy) -> None:
        set_exit_policy_provider(lambda: p)

    yield use
    set_exit_policy_provider(None)


def buy(rt, sim, qty: int) -> Order:  # type: ignore[no-untyped-def]
    from apps.broker.backends import get_broker
    from apps.risk.testing import seed_base_price

    # The risk engine values the market buy at the day's upper limit: the simulator's base price.
    seed_base_price(CODE, get_broker().quote(CODE).base_price or 70_000)
    trades = rt.hub.handler("trades")
    intent = OrderIntent(
        code=CODE, side="buy", quantity=qty, order_type="market", account_no=sim.account
    )
    order = asyncio.run_coroutine_threadsafe(trades.submit(intent), rt.loop).result(30)
    sim.advance_sync(seconds=2)
    wait_until(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.FILLED)
    return order


def sim_sells(sim) -> list:  # type: ignore[no-untyped-def]
    return [o for o in sim.call(sim.exchange.orders, sim.account, CODE) if o.side.value == "sell"]


def test_a_position_falling_through_its_stop_is_sold_once(tmp_path, policy) -> None:  # type: ignore[no-untyped-def]
    policy(ExitPolicy(stop_loss_pct=Decimal("-50"), exit_before_close_minutes=None))
    handlers = {"trades": TradesHandler, "risk.exits": RiskExitsHandler}
    with (
        simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers=handlers) as rt,
    ):
        buy(rt, sim, 10)
        risk = rt.hub.handler("risk.exits")
        assert isinstance(risk, RiskExitsHandler)
        # The hub hands the risk handler the code's ticks (its wants of the last cycle), and the
        # socket has them subscribed.
        wait_until(lambda: any(CODE in s.wants.ticks for s in rt.hub.slots if s.handler is risk))
        wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
        avg = Position.objects.get(code=CODE).avg_price
        start = broker.quote(CODE).price
        # The tape holds at the last price for a minute, then falls 1% a minute (a bigger step would
        # set off the simulator's VI) to -3.5% and stays there: many ticks below a stop set 3% under
        # that last price (the fill's average price may be a little off it).
        steps = ["0", "-1", "-2", "-3.5", "-3.5", "-3.5", "-3.5", "-3.5"]
        prices = falling_prices(start, steps, "KOSPI", DAY)
        steer_tape(sim, CODE, prices)
        sim.advance_sync(seconds=61)  # into the first steered minute (at the last price)
        wait_until(lambda: risk.last_prices.get(CODE) == prices[0])
        stop_pct = (Decimal(start) * Decimal("0.97") / avg * 100 - 100).quantize(Decimal("0.01"))
        policy(ExitPolicy(stop_loss_pct=stop_pct, exit_before_close_minutes=None))
        # The handler's next cycle writes the stop the position shows: where this exit will fire.
        shown = effective_stop(avg, None, exit_policy(), "KOSPI", DAY)
        wait_until(lambda: Position.objects.get(code=CODE).stop_price == shown)
        assert prices[3] <= shown < prices[2]
        for _ in range(len(prices) - 1):
            sim.advance_sync(seconds=20)
            sim.advance_sync(seconds=20)
            sim.advance_sync(seconds=20)
            wait_until(lambda: not risk.exits.get(CODE) or not risk.exits[CODE].sending)
        try:
            wait_until(lambda: Position.objects.get(code=CODE).quantity == 0, timeout=30)
        except AssertionError:
            raise AssertionError(
                (
                    list(Order.objects.values_list("side", "status", "price", "message")),
                    sim_sells(sim),
                )
            ) from None
        sells = sim_sells(sim)
        assert len(sells) == 1, sells
        assert sells[0].qty == 10
        exits = Order.objects.filter(code=CODE, side="sell")
        assert exits.count() == 1
        exit_order = exits.get()
        assert exit_order.cause == Cause.RISK and exit_order.cause_ref == "stop_loss"
        # Its limit price is marketable (at most 1% under the trigger) and on the grid.
        assert exit_order.order_type == "limit"
        trigger = prices[3]
        assert exit_order.reference_price == trigger
        assert trigger * Decimal("0.99") <= exit_order.price < trigger
        assert trigger <= shown  # the first trade at or under the stop shown sold
        assert risk.stats.exits_sent == 1 and risk.stats.errors == 0


def test_time_exit_fires_from_the_timer_without_ticks(tmp_path, policy) -> None:  # type: ignore[no-untyped-def]
    policy(ExitPolicy(stop_loss_pct=Decimal("-10"), exit_before_close_minutes=10))
    handlers = {"trades": TradesHandler, "risk.exits": RiskExitsHandler}
    with (
        simulated_broker(tmp_path, start=at("15:19:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers=handlers) as rt,
    ):
        buy(rt, sim, 5)
        risk = rt.hub.handler("risk.exits")
        wait_until(lambda: CODE in risk.held)
        assert not Order.objects.filter(side="sell").exists()
        # 15:20 is ten minutes before the close: the timer (on the simulator's clock) sends the exit.
        sim.advance_sync(seconds=60)
        order = wait_until(lambda: Order.objects.filter(side="sell").first(), timeout=30)
        assert order.cause == Cause.RISK and order.cause_ref == "time_exit"
        assert order.quantity == 5
        # The row is committed before the call: wait for the call's outcome, then count at the broker.
        wait_until(lambda: Order.objects.get(pk=order.pk).status != OrderStatus.SUBMITTED)
        sim.advance_sync(seconds=3)
        assert len(sim_sells(sim)) == 1
