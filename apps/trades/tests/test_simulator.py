"""The trades app against the simulator over real sockets: REST orders, 00 frames on the WebSocket,
ka10075/ka10076/kt00018 reconciliation; P&L against a recomputation from the fills, 2025 and 2026."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.trades.models import Fill, Order, OrderStatus, Position, Trade
from apps.trades.services import (
    OrderIntent,
    order_amend,
    order_cancel,
    order_submit,
    reconcile,
)

from .sim_support import trading_sim

pytestmark = pytest.mark.django_db

CODE = "005930"


def intent(account: str, side: str, qty: int, price: int | None = None) -> OrderIntent:
    return OrderIntent(
        code=CODE,
        side=side,
        quantity=qty,
        price=price,
        order_type="limit" if price else "market",
        account_no=account,
        strategy_tag="sim-test",
    )


def recompute_pnl(tax_rate: Decimal) -> int:
    pnl = 0
    for order in Order.objects.filter(code=CODE, filled_quantity__gt=0):
        amount = sum(f.amount for f in Fill.objects.filter(order=order))
        commission = int(Decimal(amount) * Decimal("0.00015"))
        tax = int(Decimal(amount) * tax_rate) if order.side == "sell" else 0
        pnl += (amount if order.side == "sell" else -amount) - commission - tax
    return pnl


def test_buy_partial_amend_cancel_sell_2025() -> None:
    with trading_sim(dt.date(2025, 11, 3)) as (sim, broker, feed):
        account = sim.account
        quote = broker.quote(CODE)
        bid = quote.price - 100  # rests below the market: fills come from the tape, in parts
        buy = order_submit(intent(account, "buy", 1000, bid), broker.place_order)
        assert buy.status == OrderStatus.ACCEPTED and buy.broker_order_no
        for _ in range(30):
            sim.advance_sync(seconds=20)
            feed.apply()
            buy.refresh_from_db()
            if buy.filled_quantity:
                break
        assert buy.status == OrderStatus.PARTIALLY_FILLED, buy.status
        # Amend the remainder up to the ask: marketable, it fills (maybe in parts).
        ask = broker.quote(CODE).price + 100
        child = order_amend(buy.pk, ask, amend=broker.amend_order)
        assert child.status == OrderStatus.ACCEPTED and child.parent_id == buy.pk
        sim.advance_sync(seconds=5)
        feed.settle(lambda: Order.objects.get(pk=child.pk).filled_quantity > 0)
        child.refresh_from_db()
        if child.status == OrderStatus.PARTIALLY_FILLED:
            order_cancel(child.pk, cancel=broker.cancel_order)
        # A resting order far below the market, cancelled.
        low = order_submit(intent(account, "buy", 10, bid - 2000), broker.place_order)
        cancelled = order_cancel(low.pk, cancel=broker.cancel_order)
        assert cancelled.status == OrderStatus.CANCELLED
        # Sell everything at market.
        held = Position.objects.get(code=CODE).quantity
        assert held == broker.holdings()[0].quantity
        sell = order_submit(intent(account, "sell", held), broker.place_order)
        sim.advance_sync(seconds=2)
        assert feed.settle(lambda: Order.objects.get(pk=sell.pk).status == OrderStatus.FILLED)
        result = reconcile(broker, account_no=account)
        assert result.run.ok, result.differences
        assert result.inserted_fills == 0  # the 00 frames brought every fill
        position = Position.objects.get(code=CODE)
        assert position.quantity == 0
        assert position.realized_pnl == sum(t.pnl for t in Trade.objects.all())
        assert position.realized_pnl == recompute_pnl(Decimal("0.0015"))
        buy.refresh_from_db()
        assert buy.status == OrderStatus.REPLACED
        journal = list(buy.transitions.values_list("to_status", flat=True))
        assert journal[-2:] == ["partially_filled", "replaced"]
        trade = Trade.objects.get()
        assert trade.date == dt.date(2025, 11, 3) and trade.closed_position


def test_round_trip_2026_and_fills_from_polling_only() -> None:
    with trading_sim(dt.date(2026, 3, 3), participation="0.5") as (sim, broker, feed):
        account = sim.account
        buy = order_submit(intent(account, "buy", 30), broker.place_order)
        sim.advance_sync(seconds=2)
        # No 00 frames applied: reconciliation (ka10076/ka10075) inserts the fills.
        feed.take()
        result = reconcile(broker, account_no=account)
        assert result.run.ok and result.inserted_fills == 1
        buy.refresh_from_db()
        assert buy.status == OrderStatus.FILLED
        sell = order_submit(intent(account, "sell", 30), broker.place_order)
        sim.advance_sync(seconds=2)
        # The 00 frames arrive after the poll already did the work: a no-op each.
        reconcile(broker, account_no=account)
        assert feed.settle(lambda: len(feed.events) == 0 and not feed.unmatched)
        feed.apply()
        sell.refresh_from_db()
        assert sell.status == OrderStatus.FILLED and sell.fills.count() == 1
        trade = Trade.objects.get()
        assert trade.date.year == 2026
        assert trade.tax == int(Decimal(trade.exit_amount) * Decimal("0.0020"))
        assert Position.objects.get().realized_pnl == recompute_pnl(Decimal("0.0020"))
        assert reconcile(broker, account_no=account).run.ok
