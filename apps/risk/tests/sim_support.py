"""Driving the simulator's tape for the risk tests and the exit bench (tests may reach the simulator)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import krx
from apps.broker.simulator.testing import SimHandle
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import OrderIntent, order_submit


def steer_tape(sim: SimHandle, code: str, prices: list[int]) -> int:
    """Make the simulated tape of `code` print `prices[i]` through the whole minute i+1 after the current
    one (the minutes' paths are rewritten before their ticks are made). Returns the first such minute."""

    def rewrite() -> int:
        engine = sim.exchange._engine
        st = engine.stocks[code]
        first = engine.minute_index(engine.now) + 1
        volume = max(st.avg_minute_volume, 1_000)
        for i, price in enumerate(prices):
            if first + i < len(st.path.bars):
                st.path.bars[first + i] = (price, price, price, price, volume)
        return first

    return sim.call(rewrite)


def falling_prices(start: int, pct_steps: list[str], market: str, day) -> list[int]:  # type: ignore[no-untyped-def]
    """Tick-grid prices `pct_steps` percent (cumulative, e.g. ["-1", "-2"]) below `start`."""
    return [
        krx.tick_round(int(Decimal(start) * (1 + Decimal(p) / 100)), market, day, "down")
        for p in pct_steps
    ]


def flat_soon(sim, feed, steps: int = 12) -> bool:  # type: ignore[no-untyped-def]
    """Let the market run 5 s at a time (a quiet stock needs prints to fill) until nothing is held."""
    for _ in range(steps):
        sim.advance_sync(seconds=5)
        if feed.settle(lambda: not Position.objects.filter(quantity__gt=0).exists(), wait=2):
            return True
    return False


DAY = dt.date(2025, 11, 3)


def open_twenty(sim, broker, feed, day=DAY) -> list[str]:  # type: ignore[no-untyped-def]
    """Buy 20 stocks at market, then leave a buy resting 5% under each one's price."""
    account = sim.account
    codes = []
    for inst in sim.call(sim.exchange.instruments):
        quote = broker.quote(inst.code)
        if quote.price and 1_000 <= quote.price <= 300_000:
            codes.append((inst.code, inst.market.value, quote.price))
        if len(codes) == 20:
            break
    assert len(codes) == 20
    buys = []
    for code, _, price in codes:
        qty = max(1, 1_000_000 // price)
        buys.append(
            order_submit(
                OrderIntent(
                    code=code, side="buy", quantity=qty, order_type="market", account_no=account
                ),
                broker.place_order,
            )
        )
    ids = [b.pk for b in buys]

    def filled() -> bool:
        return Order.objects.filter(pk__in=ids, status=OrderStatus.FILLED).count() == len(ids)

    for _ in range(12):
        sim.advance_sync(seconds=5)
        if feed.settle(filled, wait=2):
            break
    assert filled()
    for code, market, price in codes:
        low = krx.tick_round(price * 95 // 100, market, day, "down")
        rest = order_submit(
            OrderIntent(code=code, side="buy", quantity=1, price=low, account_no=account),
            broker.place_order,
        )
        assert rest.status == OrderStatus.ACCEPTED, rest.message
    return [c for c, _, _ in codes]
