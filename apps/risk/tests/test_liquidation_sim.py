"""The emergency liquidation against the simulator over real sockets: 20 positions, each with an open buy
resting below the market; one run cancels every buy and sells every holding at a marketable limit price,
the account ends flat; a double click, a redelivered task and a retried request send nothing extra."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from apps.core.tests.factories import RuntimeFlagFactory
from apps.risk.services.liquidation import (
    liquidation_check,
    liquidation_request,
    liquidation_run,
)
from apps.trades.models import Cause, Order, OrderStatus, Position
from apps.trades.services import OrderIntent, order_submit
from apps.trades.tests.sim_support import trading_sim

from .sim_support import flat_soon, open_twenty

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 11, 3)


def sim_orders(sim) -> Counter:  # type: ignore[no-untyped-def]
    return Counter(o.side.value for o in sim.call(sim.exchange.orders, sim.account, None))


def test_liquidation_of_twenty_positions_ends_flat_once(trader) -> None:
    RuntimeFlagFactory(key="trading-enabled", enabled=True)
    with trading_sim(DAY, participation="0.5") as (sim, broker, feed):
        codes = open_twenty(sim, broker, feed)
        assert Position.objects.filter(quantity__gt=0).count() == 20
        open_buys = list(Order.objects.filter(side="buy", status=OrderStatus.ACCEPTED))
        assert len(open_buys) == 20
        before = sim_orders(sim)

        run, created = liquidation_request(trader, "테스트", "page-key-1", enqueue=False)
        assert created
        # The double click and a retried request while it runs: the same run.
        again, created_again = liquidation_request(trader, "테스트", "page-key-1", enqueue=False)
        other, created_other = liquidation_request(trader, "테스트", "page-key-2", enqueue=False)
        assert again.id == other.id == run.id and not created_again and not created_other

        done = liquidation_run(run.id, broker, schedule_checks=False)
        assert done.status == "watching", done.message
        assert done.cancel_total == 20 and done.cancelled == 20 and not done.cancel_failed
        assert len(done.lines) == 20 and all(line.orders >= 1 for line in done.lines)
        # A redelivered task: claimed already, sends nothing.
        liquidation_run(run.id, broker, schedule_checks=False)

        assert flat_soon(sim, feed)
        final = liquidation_check(run.id)
        assert final is not None and final.status == "done"
        assert all(line.state == "sold" for line in final.lines)

        for buy in open_buys:
            buy.refresh_from_db()
            assert buy.status == OrderStatus.CANCELLED
        sells = Order.objects.filter(side="sell")
        assert set(sells.values_list("cause", flat=True)) == {Cause.LIQUIDATION}
        assert sorted(set(sells.values_list("code", flat=True))) == sorted(codes)
        after = sim_orders(sim)
        assert after["sell"] - before["sell"] == sells.count() == 20  # one sell a holding, no more
        # After the run, the same page's key still names the finished run: nothing new.
        late, created_late = liquidation_request(trader, "테스트", "page-key-1", enqueue=False)
        assert late.id == run.id and not created_late
        assert sim_orders(sim) == after
        holdings = {h.code: h.quantity for h in broker.holdings() if h.quantity}
        assert holdings == {}


def test_a_large_holding_is_split(trader, settings) -> None:
    settings.RISK_LIQUIDATION_MAX_ORDER_KRW = 1_000_000
    with trading_sim(DAY, participation="0.5") as (sim, broker, feed):
        price = broker.quote("005930").price
        qty = 3_500_000 // price + 1  # worth a bit over 3.5 M → 4 child orders
        buy = order_submit(
            OrderIntent(
                code="005930", side="buy", quantity=qty, order_type="market", account_no=sim.account
            ),
            broker.place_order,
        )
        sim.advance_sync(seconds=5)
        assert feed.settle(
            lambda: Order.objects.get(pk=buy.pk).status == OrderStatus.FILLED, wait=30
        )
        run, _ = liquidation_request(trader, "split", None, enqueue=False)
        done = liquidation_run(run.id, broker, schedule_checks=False)
        line = done.lines[0]
        assert line.orders == 4
        sells = Order.objects.filter(side="sell").order_by("created_at")
        assert sells.count() == 4 and sum(s.quantity for s in sells) == qty
        assert {s.kind for s in sells} == {"split"}
        assert flat_soon(sim, feed)
        assert liquidation_check(run.id).status == "done"
