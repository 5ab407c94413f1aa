"""Split orders against the simulator over real sockets (services.split): a time split sends its
children at the intervals on the exchange's clock, a worker that dies between creating and sending a
child resumes without a duplicate, a depth split sizes its child by the book within the cap, the chase
amends then cancels, slippage per child against the reference price, the parent aggregates its children,
cancelling the parent cancels the schedule, and P&L still equals a recomputation from the fills."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.broker.contract import OrderBookLevel
from apps.broker.simulator.server import DEMO_ACCOUNT, DEMO_APP_KEY, DEMO_SECRET_KEY, Credential
from apps.trades.models import Fill, Order, OrderKind, OrderStatus, SplitStatus, Trade
from apps.trades.services import OrderIntent, order_submit
from apps.trades.services import split as split_service
from apps.trades.services.split import (
    SplitRequest,
    depth_take,
    split_cancel,
    split_create,
    split_step,
    split_totals_check,
)

from .sim_support import trading_sim

pytestmark = pytest.mark.django_db

CODE = "005930"
DAY = dt.date(2025, 11, 3)
RICH = (Credential(DEMO_APP_KEY, DEMO_SECRET_KEY, DEMO_ACCOUNT, starting_cash=10_000_000_000),)


def intent(account: str, side: str, qty: int, **kw) -> OrderIntent:
    kw.setdefault("order_type", "limit" if kw.get("price") else "market")
    return OrderIntent(
        code=CODE, side=side, quantity=qty, account_no=account, strategy_tag="split-test", **kw
    )


def children(parent) -> list[Order]:
    return list(Order.objects.filter(split=parent, kind=OrderKind.SPLIT).order_by("split_index"))


def settle_all(feed, parent) -> None:
    feed.settle(
        lambda: (
            not Order.objects.filter(
                split=parent, status__in=[OrderStatus.SUBMITTED, OrderStatus.ACCEPTED]
            ).exists()
        ),
        wait=5,
    )


# ------------------------------------------------------------------------------------------ unit
@pytest.mark.parametrize(
    ("side", "limit", "wanted", "expected"),
    [
        ("buy", 100, 50, (50, 100)),  # the best level has enough
        ("buy", 101, 500, (300, 101)),  # two levels within the limit, the third is beyond it
        ("buy", 99, 500, (0, None)),  # nothing within the limit
        ("sell", 99, 500, (300, 99)),  # bids, best (highest) first
    ],
)
def test_depth_take(side, limit, wanted, expected) -> None:
    asks = [OrderBookLevel(100, 100), OrderBookLevel(101, 200), OrderBookLevel(102, 400)]
    bids = [OrderBookLevel(100, 100), OrderBookLevel(99, 200), OrderBookLevel(98, 400)]
    assert depth_take(side, asks if side == "buy" else bids, limit, wanted) == expected


# ------------------------------------------------------------------------------------------ time
def test_time_split_sends_children_at_the_intervals_and_aggregates() -> None:
    with trading_sim(DAY) as (sim, broker, feed):
        account = sim.account
        ref = broker.quote(CODE).price
        parent, created = split_create(
            SplitRequest(
                intent(account, "buy", 30, reference_price=ref, slippage_cap_pct=Decimal("1")),
                parts=3,
                interval_seconds=60,
            ),
            broker=broker,
            now=sim.now(),
        )
        assert created and parent.limit_price and parent.limit_price > ref
        sent_at = []
        for _ in range(8):
            parent = split_step(parent.pk, broker=broker, now=sim.now())
            if len(children(parent)) > len(sent_at):
                sent_at.append(sim.now())
            sim.advance_sync(seconds=30)
            settle_all(feed, parent)
            if parent.status != SplitStatus.RUNNING:
                break
        kids = children(parent)
        assert [c.quantity for c in kids] == [10, 10, 10]
        assert [c.split_index for c in kids] == [0, 1, 2]
        # One child per 60 s of exchange time (the steps ran every 30 s).
        assert [(t - sent_at[0]).total_seconds() for t in sent_at] == [0, 60, 120]
        assert parent.status == SplitStatus.FILLED
        totals = split_totals_check(parent)
        assert totals["filled_quantity"] == totals["fills_quantity"] == 30
        assert totals["filled_amount"] == totals["fills_amount"]
        assert parent.avg_fill_price == totals["fills_avg"]
        # Slippage per child against the parent's reference price; the parent's is their sum.
        for child in kids:
            assert child.reference_price == ref
            assert child.slippage == child.filled_amount - ref * child.filled_quantity
        assert parent.slippage == sum(c.slippage for c in kids)
        assert parent.commission == sum(c.commission for c in kids)
        # Sell everything and compare P&L with a recomputation from the fills, to the won.
        sell = order_submit(intent(account, "sell", 30), broker.place_order)
        sim.advance_sync(seconds=2)
        feed.settle(lambda: Order.objects.get(pk=sell.pk).status == OrderStatus.FILLED)
        trade = Trade.objects.get(exit_order=sell)
        pnl = 0
        for order in Order.objects.filter(filled_quantity__gt=0):
            amount = sum(f.amount for f in Fill.objects.filter(order=order))
            commission = int(Decimal(amount) * Decimal("0.00015"))
            tax = int(Decimal(amount) * Decimal("0.0015")) if order.side == "sell" else 0
            pnl += (amount if order.side == "sell" else -amount) - commission - tax
        assert trade.pnl == pnl


def test_worker_death_between_create_and_send_resumes_without_duplicate(monkeypatch) -> None:
    class Killed(BaseException):
        pass

    with trading_sim(DAY) as (sim, broker, feed):
        account = sim.account
        ref = broker.quote(CODE).price
        parent, _ = split_create(
            SplitRequest(
                intent(account, "buy", 4, reference_price=ref, slippage_cap_pct=Decimal("1")),
                parts=2,
                interval_seconds=10,
            ),
            broker=broker,
            now=sim.now(),
        )
        real_send = split_service.order_send

        def die(*args, **kwargs):
            raise Killed

        monkeypatch.setattr(split_service, "order_send", die)
        with pytest.raises(Killed):
            split_step(parent.pk, broker=broker, now=sim.now())
        kid = children(parent)[0]
        assert kid.status == OrderStatus.NEW and not kid.broker_order_no
        monkeypatch.setattr(split_service, "order_send", real_send)
        # A second step (another worker, the sweep) sends the stranded child, once.
        for _ in range(6):
            parent = split_step(parent.pk, broker=broker, now=sim.now())
            sim.advance_sync(seconds=10)
            settle_all(feed, parent)
        kids = children(parent)
        assert [c.split_index for c in kids] == [0, 1]
        assert parent.status == SplitStatus.FILLED
        views = sim.call(sim.exchange.orders, account)
        assert len(views) == 2  # two children at the broker, no duplicate
        assert sorted(v.order_no for v in views) == sorted(c.broker_order_no for c in kids)


def test_step_with_a_held_lease_does_nothing() -> None:
    with trading_sim(DAY) as (sim, broker, _feed):
        ref = broker.quote(CODE).price
        parent, _ = split_create(
            SplitRequest(intent(sim.account, "buy", 2, price=ref + 500), parts=2),
            broker=broker,
            now=sim.now(),
        )
        assert split_service._lease(parent.pk)  # another worker holds it
        split_step(parent.pk, broker=broker, now=sim.now())
        assert not children(parent)


# ------------------------------------------------------------------------------------------ depth
def test_depth_split_sizes_children_by_the_book(settings) -> None:
    # The risk engine's equity: the rich account's (no balance snapshot in this test).
    settings.RISK_EQUITY_FALLBACK_KRW = 10_000_000_000
    with trading_sim(DAY, credentials=RICH) as (sim, broker, _feed):
        book = broker.order_book(CODE)
        ref = broker.quote(CODE).price
        limit = book.asks[1].price  # two levels within reach
        visible = book.asks[0].quantity + book.asks[1].quantity
        parent, _ = split_create(
            SplitRequest(
                intent(sim.account, "buy", visible + 5000, price=limit, reference_price=ref),
                mode="depth",
                parts=5,
                interval_seconds=5,
            ),
            broker=broker,
            now=sim.now(),
        )
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        first = children(parent)[0]
        assert (first.quantity, first.price) == (visible, limit)
        assert first.status in (
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
        )


def test_depth_split_waits_when_nothing_is_within_the_cap() -> None:
    with trading_sim(DAY) as (sim, broker, _feed):
        ref = broker.quote(CODE).price
        below = broker.order_book(CODE).asks[0].price - 100
        parent, _ = split_create(
            SplitRequest(
                intent(sim.account, "buy", 10, price=below, reference_price=ref),
                mode="depth",
                parts=3,
                interval_seconds=20,
            ),
            broker=broker,
            now=sim.now(),
        )
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        assert not children(parent) and parent.status == SplitStatus.RUNNING
        assert parent.next_at == sim.now() + dt.timedelta(seconds=20)


# ------------------------------------------------------------------------------------------ chase
def test_chase_amends_then_cancels_then_the_parent_ends() -> None:
    with trading_sim(DAY) as (sim, broker, feed):
        ref = broker.quote(CODE).price
        low = ref - 3000  # rests far below the market: the chase cannot reach a fill
        parent, _ = split_create(
            SplitRequest(
                intent(
                    sim.account,
                    "buy",
                    10,
                    price=low,
                    reference_price=ref,
                    slippage_cap_pct=Decimal("1"),
                ),
                parts=1,
                chase_seconds=10,
                chase_max_amends=2,
                chase_ticks=1,
            ),
            broker=broker,
            now=sim.now(),
        )
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        for _ in range(5):
            sim.advance_sync(seconds=10)
            feed.apply()
            parent = split_step(parent.pk, broker=broker, now=sim.now())
        chain = list(Order.objects.filter(split=parent).order_by("created_at"))
        assert [o.kind for o in chain] == ["split", "amend", "amend"]
        assert [o.price for o in chain] == [low, low + 100, low + 200]
        assert [o.status for o in chain] == ["replaced", "replaced", "cancelled"]
        assert all(o.split_index == 0 for o in chain)
        assert parent.status == SplitStatus.COMPLETED and parent.filled_quantity == 0


def test_cancel_parent_cancels_schedule_and_open_children() -> None:
    with trading_sim(DAY) as (sim, broker, _feed):
        ref = broker.quote(CODE).price
        parent, _ = split_create(
            SplitRequest(
                intent(sim.account, "buy", 10, price=ref - 3000),
                parts=5,
                interval_seconds=60,
                chase_seconds=3600,
            ),
            broker=broker,
            now=sim.now(),
        )
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        assert children(parent)[0].status == OrderStatus.ACCEPTED
        parent = split_cancel(parent.pk, broker=broker)
        assert parent.status == SplitStatus.CANCELLED
        assert children(parent)[0].status == OrderStatus.CANCELLED
        sim.advance_sync(seconds=120)
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        assert len(children(parent)) == 1  # the schedule stopped


def test_without_a_cap_the_chase_never_passes_the_limit() -> None:
    with trading_sim(DAY) as (sim, broker, feed):
        low = broker.quote(CODE).price - 3000
        parent, _ = split_create(
            SplitRequest(intent(sim.account, "buy", 10, price=low), parts=1, chase_seconds=10),
            broker=broker,
            now=sim.now(),
        )
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        sim.advance_sync(seconds=10)
        feed.apply()
        parent = split_step(parent.pk, broker=broker, now=sim.now())
        chain = list(Order.objects.filter(split=parent))
        assert [(o.kind, o.price, o.status) for o in chain] == [("split", low, "cancelled")]
