"""Fills, positions and the trade log: idempotent on cumulative quantity; P&L to the won."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import krx
from apps.trades.models import Fill, Order, Position, Trade
from apps.trades.services import fill_apply

from .factories import OrderFactory

pytestmark = pytest.mark.django_db

KST = krx.KST
AT_2025 = dt.datetime(2025, 11, 3, 10, 0, tzinfo=KST)
AT_2026 = dt.datetime(2026, 3, 3, 10, 0, tzinfo=KST)


def _steps(draw_sizes: list[int], prices: list[int]) -> list[tuple[int, int]]:
    """(cum_qty, cum_amount) after each execution."""
    out, cq, ca = [], 0, 0
    for q, p in zip(draw_sizes, prices, strict=False):
        cq += q
        ca += q * p
        out.append((cq, ca))
    return out


executions = st.lists(
    st.tuples(st.integers(1, 50), st.integers(1_000, 200_000)), min_size=1, max_size=8
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(execs=executions, data=st.data())
def test_fill_idempotency_any_source_order(
    execs: list[tuple[int, int]], data: st.DataObject
) -> None:
    """00 frames then the poll, the poll then 00 frames, duplicates and reordering: the books end the
    same — one fill per step, the order's cumulative figures equal the last report."""
    with transaction.atomic():
        sid = transaction.savepoint()
        total = sum(q for q, _ in execs)
        order = OrderFactory(quantity=total, side="buy")
        steps = _steps([q for q, _ in execs], [p for _, p in execs])
        frames = [("realtime", cq, ca, f"E{i}") for i, (cq, ca) in enumerate(steps)]
        polls = [("poll", cq, ca, None) for cq, ca in data.draw(st.lists(st.sampled_from(steps)))]
        reports = data.draw(st.permutations(frames + polls + frames[-1:]))
        for source, cq, ca, exe in reports:
            fill_apply(
                order.pk,
                cum_quantity=cq,
                cum_amount=ca,
                executed_at=AT_2025,
                source=source,
                execution_no=exe,
            )
        order.refresh_from_db()
        fills = list(Fill.objects.filter(order=order).order_by("cum_quantity"))
        assert order.filled_quantity == total
        assert order.filled_amount == steps[-1][1]
        assert sum(f.quantity for f in fills) == total
        assert sum(f.amount for f in fills) == steps[-1][1]
        assert len({f.cum_quantity for f in fills}) == len(fills)
        # Fees: the step sums equal the fee on the cumulative amount, rounded down once.
        assert sum(f.commission for f in fills) == krx.commission(steps[-1][1])
        assert order.status == "filled"
        position = Position.objects.get(code=order.code)
        assert position.quantity == total
        assert position.cost_amount == steps[-1][1]
        transaction.savepoint_rollback(sid)


def _buy(qty: int, price: int, at: dt.datetime, **kw: object) -> Order:
    order = OrderFactory(side="buy", quantity=qty, price=price, **kw)
    fill_apply(order.pk, cum_quantity=qty, cum_amount=qty * price, executed_at=at)
    return order


def _sell(fills: list[tuple[int, int]], at: dt.datetime) -> Order:
    total = sum(q for q, _ in fills)
    order = OrderFactory(side="sell", quantity=total, price=fills[0][1])
    cq = ca = 0
    for q, p in fills:
        cq += q
        ca += q * p
        fill_apply(order.pk, cum_quantity=cq, cum_amount=ca, executed_at=at)
    return order


def _recompute(code: str) -> int:
    """Independent of the position code: Σ sells − Σ buys − per-order commission and tax computed
    from each order's fills with the rates written out here."""
    pnl = 0
    for order in Order.objects.filter(code=code):
        fills = list(order.fills.all())
        if not fills:
            continue
        amount = sum(f.amount for f in fills)
        commission = int(Decimal(amount) * Decimal("0.00015"))  # floor for positive amounts
        day = fills[-1].executed_at.astimezone(KST).date()
        tax_rate = Decimal("0.0015") if day.year == 2025 else Decimal("0.0020")
        tax = int(Decimal(amount) * tax_rate) if order.side == "sell" else 0
        pnl += (amount if order.side == "sell" else -amount) - commission - tax
    return pnl


def test_round_trip_pnl_2025_and_2026_to_the_won() -> None:
    # 2025: buy 37 in two orders, sell in a partial exit then the rest (two trade rows).
    _buy(20, 71_300, AT_2025)
    _buy(17, 70_900, AT_2025 + dt.timedelta(minutes=3))
    _sell([(7, 72_100), (6, 72_200)], AT_2025 + dt.timedelta(hours=1))
    _sell([(24, 72_500)], AT_2025 + dt.timedelta(hours=2))
    position = Position.objects.get()
    assert position.quantity == 0 and position.cost_amount == 0
    trades = list(Trade.objects.order_by("exit_time"))
    assert [t.quantity for t in trades] == [13, 24]
    assert trades[-1].closed_position and not trades[0].closed_position
    assert sum(t.pnl for t in trades) == position.realized_pnl == _recompute("005930")
    pnl_2025 = position.realized_pnl
    # 2026: the same trades, with the restored 0.20 % tax.
    _buy(20, 71_300, AT_2026)
    _buy(17, 70_900, AT_2026 + dt.timedelta(minutes=3))
    _sell([(7, 72_100), (6, 72_200)], AT_2026 + dt.timedelta(hours=1))
    _sell([(24, 72_500)], AT_2026 + dt.timedelta(hours=2))
    position.refresh_from_db()
    assert position.realized_pnl == _recompute("005930")
    pnl_2026 = position.realized_pnl - pnl_2025
    sell_amount = 13 * 72_100 - 6 * 72_100 + 6 * 72_200 + 24 * 72_500  # the sells' value
    assert pnl_2025 - pnl_2026 > 0  # the 2026 tax is higher
    assert Trade.objects.filter(date__year=2026).count() == 2
    taxes = {t.date.year: t.tax for t in Trade.objects.all() if t.closed_position}
    assert taxes[2025] == int(Decimal(24 * 72_500) * Decimal("0.0015"))
    assert taxes[2026] == int(Decimal(24 * 72_500) * Decimal("0.0020"))
    assert sell_amount > 0


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    buys=st.lists(
        st.tuples(st.integers(1, 40), st.integers(5_000, 90_000)), min_size=1, max_size=4
    ),
    cuts=st.lists(st.integers(1, 10), min_size=1, max_size=4),
    sell_price=st.integers(5_000, 90_000),
)
def test_partial_exits_split_pnl_exactly(
    buys: list[tuple[int, int]], cuts: list[int], sell_price: int
) -> None:
    with transaction.atomic():
        sid = transaction.savepoint()
        for q, p in buys:
            _buy(q, p, AT_2026)
        held = sum(q for q, _ in buys)
        remaining = held
        for c in cuts:
            q = min(c, remaining)
            if q == 0:
                break
            _sell([(q, sell_price)], AT_2026 + dt.timedelta(hours=1))
            remaining -= q
        if remaining:
            _sell([(remaining, sell_price)], AT_2026 + dt.timedelta(hours=2))
        position = Position.objects.get()
        assert position.quantity == 0
        assert (
            sum(t.pnl for t in Trade.objects.all()) == position.realized_pnl == _recompute("005930")
        )
        assert sum(t.quantity for t in Trade.objects.all()) == held
        transaction.savepoint_rollback(sid)


def test_live_push_after_commit(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "apps.core.live.publish_soon", lambda t, d, g="live", key=None: sent.append((t, d))
    )
    order = OrderFactory(side="buy", quantity=5, price=70_000)
    with django_capture_on_commit_callbacks(execute=True):
        fill_apply(order.pk, cum_quantity=5, cum_amount=350_000, executed_at=AT_2026)
    pushed = dict(sent)
    assert [t for t, _ in sent] == ["order_update", "order_filled", "position_update"]
    fill = order.fills.get()
    assert pushed["order_filled"] == {
        "order_id": str(order.pk),
        "code": "005930",
        "price": 70_000,
        "fill_id": fill.pk,
        "name": "삼성전자",
        "side": "buy",
        "qty": 5,
        "at": AT_2026,
    }
    assert set(pushed["position_update"]) == {"code", "qty", "pnl", "stop"}
    assert pushed["position_update"]["qty"] == 5
    assert pushed["order_update"]["status"] == "filled"
    assert pushed["order_update"]["filled_qty"] == 5
