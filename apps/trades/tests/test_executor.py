"""The executor against the in-memory broker: one order per key, never a resend, reservations."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import AmbiguousOutcome, OrderRejected
from apps.core.models import RuntimeFlag
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import (
    OrderIntent,
    OrderRefused,
    order_amend,
    order_cancel,
    order_create,
    order_enqueue,
    order_send,
    order_submit,
    reconcile,
    report_apply,
    report_from_event,
)

from .factories import PositionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker() -> MemoryBroker:
    b = MemoryBroker()
    b.set_quote("005930", 70_000, "삼성전자")
    return b


def buy(qty: int = 10, price: int = 70_000, **kw: object) -> OrderIntent:
    return OrderIntent(code="005930", side="buy", quantity=qty, price=price, **kw)  # type: ignore[arg-type]


def sell(qty: int = 10, price: int = 70_000, **kw: object) -> OrderIntent:
    return OrderIntent(code="005930", side="sell", quantity=qty, price=price, **kw)  # type: ignore[arg-type]


def test_submit_commits_then_sends_once(broker: MemoryBroker) -> None:
    order = order_submit(buy(), broker.place_order)
    assert order.status == OrderStatus.ACCEPTED and order.broker_order_no == "0000001"
    assert [c[0] for c in broker.calls] == ["place_order"]
    journal = list(order.transitions.values_list("from_status", "to_status"))
    assert journal == [("new", "new"), ("new", "submitted"), ("submitted", "accepted")]


def test_queued_order_is_claimed_once(broker: MemoryBroker) -> None:
    order, created = order_create(buy())
    assert created and order.status == OrderStatus.NEW
    order_send(order.pk, broker.place_order)
    order_send(order.pk, broker.place_order)  # a redelivered task
    assert len(broker.calls) == 1


def test_a_queued_order_whose_task_was_lost_is_rejected_and_never_sent(
    broker: MemoryBroker,
) -> None:
    """The worker died holding the order_send message (kill -9): reconciliation ends the `new` row,
    and the task, should it be redelivered later, finds nothing to send."""
    PositionFactory(quantity=10)
    lost, _ = order_create(sell(4))
    young, _ = order_create(buy(1))
    Order.objects.filter(pk=lost.pk).update(created_at=lost.created_at - dt.timedelta(minutes=5))
    result = reconcile(broker)
    lost.refresh_from_db()
    young.refresh_from_db()
    assert lost.status == OrderStatus.REJECTED and lost.reserved_quantity == 0
    assert young.status == OrderStatus.NEW  # still within the grace: its task may be on its way
    assert Position.objects.get().reserved == 0
    assert result.resolved == []  # nothing was at the broker to resolve
    order_send(lost.pk, broker.place_order)  # the lost task turns up
    assert "place_order" not in [c[0] for c in broker.calls]
    assert lost.transitions.last().cause == "reconcile:never_sent"


def test_idempotency_key_one_order(broker: MemoryBroker) -> None:
    key = str(uuid.uuid4())
    first = order_submit(buy(idempotency_key=key), broker.place_order)
    second = order_submit(buy(idempotency_key=key), broker.place_order)
    assert first.pk == second.pk and Order.objects.count() == 1 and len(broker.calls) == 1


def test_ambiguous_is_unknown_never_resent_and_blocks_the_side(broker: MemoryBroker) -> None:
    broker.fail_next(AmbiguousOutcome("reply lost"))
    order = order_submit(buy(), broker.place_order)
    assert order.status == OrderStatus.UNKNOWN
    with pytest.raises(OrderRefused) as refused:
        order_submit(buy(), broker.place_order)
    assert refused.value.code == "unknown_pending"
    # A sell of another code and a buy of another code are not blocked.
    broker.set_quote("000660", 100_000, "SK하이닉스")
    other = order_submit(
        OrderIntent(code="000660", side="buy", quantity=1, price=100_000), broker.place_order
    )
    assert other.status == OrderStatus.ACCEPTED
    assert len(broker.calls) == 2  # the unknown order was not sent again


def test_reconcile_resolves_unknown_not_at_broker(broker: MemoryBroker) -> None:
    broker.fail_next(AmbiguousOutcome("lost before reaching the broker"))
    order = order_submit(buy(), broker.place_order)
    result = reconcile(broker, unknown_grace_seconds=0)
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED and str(order.pk) in result.resolved
    assert result.run.ok


def test_rejection_releases_the_reservation(broker: MemoryBroker) -> None:
    PositionFactory(quantity=10)
    broker.fail_next(OrderRejected("800033", "매도가능수량이 부족합니다."))
    order = order_submit(sell(10), broker.place_order)
    assert order.status == OrderStatus.REJECTED and "매도가능수량" in order.message
    assert Position.objects.get().reserved == 0


def test_sell_beyond_sellable_is_refused_with_reason() -> None:
    PositionFactory(quantity=10, reserved=4)
    with pytest.raises(OrderRefused) as refused:
        order_create(sell(7))
    assert refused.value.code == "insufficient"
    assert "6주만 매도할 수 있습니다" in refused.value.reason
    assert Order.objects.count() == 0


def test_gate_blocks_strategy_entries_not_exits(broker: MemoryBroker) -> None:
    RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=False)
    with pytest.raises(OrderRefused) as refused:
        order_create(buy(cause="signal"))
    assert refused.value.code == "gate_closed"
    PositionFactory(quantity=3)
    order, _ = order_create(sell(3, cause="risk"))
    assert order.pk


def test_fill_event_before_ack_is_applied_later(broker: MemoryBroker) -> None:
    events: list = []
    broker.emit = events.append  # type: ignore[method-assign]
    order = order_submit(buy(), broker.place_order)
    broker.fill(order.broker_order_no, 4, 69_900)
    broker.fill(order.broker_order_no, 6, 70_000)
    for ev in events:
        if hasattr(ev, "order_no"):
            report_apply(report_from_event(ev))
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and order.filled_amount == 4 * 69_900 + 6 * 70_000
    assert Position.objects.get().quantity == 10
    result = reconcile(broker)
    assert result.run.ok and result.inserted_fills == 0


def test_cancel_and_amend(broker: MemoryBroker) -> None:
    order = order_submit(buy(), broker.place_order)
    broker.fill(order.broker_order_no, 3, 70_000)
    reconcile(broker)  # the poll path brings the partial fill in
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_FILLED
    child = order_amend(order.pk, 70_100, amend=broker.amend_order)
    order.refresh_from_db()
    assert order.status == OrderStatus.REPLACED
    assert child.status == OrderStatus.ACCEPTED and child.quantity == 7 and child.price == 70_100
    cancelled = order_cancel(child.pk, cancel=broker.cancel_order)
    assert cancelled.status == OrderStatus.CANCELLED
    result = reconcile(broker)
    assert result.run.ok, result.differences
    assert Position.objects.get().quantity == 3


def test_unexplained_difference_closes_the_gate(broker: MemoryBroker) -> None:
    from apps.notifications.models import Notification
    from apps.risk.models import RiskStateEvent, RiskStatus

    RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=True)
    broker.set_holding("005930", 5, 70_000)  # the broker holds what we never bought
    result = reconcile(broker)
    assert not result.run.ok and result.run.gate_closed
    assert result.differences == [{"code": "005930", "local": 0, "broker": 5}]
    # Through the trading gate: HALTED (exits pass), journalled with the numbers, notified.
    assert RiskStatus.objects.get(pk=1).state == "halted"
    event = RiskStateEvent.objects.get(cause="reconcile")
    assert "대사 불일치" in event.reason and event.data["differences"] == result.differences
    assert Notification.objects.filter(kind="risk.halt").exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sells_of_the_whole_position_one_order() -> None:
    """A stop-loss exit and an emergency sell race for the same 10 shares: one order, one refusal."""
    PositionFactory(quantity=10)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def seller(cause: str) -> None:
        try:
            barrier.wait(5)
            order, _ = order_create(sell(10, cause=cause))
            outcomes.append(order)
        except OrderRefused as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=seller, args=(c,)) for c in ("risk", "liquidation")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    orders = [o for o in outcomes if isinstance(o, Order)]
    refusals = [o for o in outcomes if isinstance(o, OrderRefused)]
    assert len(orders) == 1 and len(refusals) == 1
    assert refusals[0].code == "insufficient" and "0주만 매도할 수 있습니다" in refusals[0].reason
    assert Order.objects.count() == 1
    assert Position.objects.get().reserved == 10


def test_enqueue_sends_through_the_task_after_commit(
    broker: MemoryBroker, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from apps.trades import tasks

    queued: list[str] = []
    monkeypatch.setattr(tasks.order_send, "delay", queued.append)
    key = "form-token-1"
    with django_capture_on_commit_callbacks(execute=True):
        order, created = order_enqueue(buy(idempotency_key=key))
        again, created_again = order_enqueue(buy(idempotency_key=key))  # a double click
    assert created and not created_again and again.pk == order.pk
    assert queued == [str(order.pk)]
    monkeypatch.setattr("apps.broker.backends.get_broker", lambda: broker)
    assert tasks.order_send(queued[0]) == OrderStatus.ACCEPTED
    assert tasks.order_send(queued[0]) == OrderStatus.ACCEPTED  # redelivered: no second call
    assert len(broker.calls) == 1


def test_orders_expire_after_the_close(broker: MemoryBroker) -> None:
    from apps.trades.services import orders_expire

    PositionFactory(quantity=10)
    broker.set_holding("005930", 10, 70_000)
    resting = order_submit(sell(4, 75_000), broker.place_order)
    assert Position.objects.get().reserved == 4
    assert orders_expire(broker) == 1
    resting.refresh_from_db()
    assert resting.status == OrderStatus.EXPIRED
    assert Position.objects.get().reserved == 0


def test_chase_amends_towards_the_market_then_cancels(broker: MemoryBroker) -> None:
    from apps.trades.services import order_chase_step

    order = order_submit(
        buy(5, 70_000, reference_price=70_000, slippage_cap_pct=Decimal("1")), broker.place_order
    )
    live = order
    prices = []
    for _ in range(3):
        live = order_chase_step(
            live.pk, max_amends=2, amend=broker.amend_order, cancel=broker.cancel_order
        )
        prices.append((live.status, live.price))
    assert prices[0] == (OrderStatus.ACCEPTED, 70_100)
    assert prices[1] == (OrderStatus.ACCEPTED, 70_200)
    assert prices[2][0] == OrderStatus.CANCELLED  # two amends were the limit
    assert Order.objects.filter(kind="amend").count() == 2


def test_slippage_cap_turns_a_market_order_into_a_capped_limit(broker: MemoryBroker) -> None:
    order, _ = order_create(
        OrderIntent(
            code="005930",
            side="buy",
            quantity=1,
            order_type="market",
            reference_price=70_000,
            slippage_cap_pct=Decimal("0.5"),
        )
    )
    assert order.order_type == "limit" and order.price == 70_300  # 70,350 rounded down to the tick
    with pytest.raises(OrderRefused) as refused:
        order_create(buy(1, 71_000, reference_price=70_000, slippage_cap_pct=Decimal("0.5")))
    assert refused.value.code == "slippage"


def test_split_order_children_and_an_ambiguous_child_stops_the_rest(broker: MemoryBroker) -> None:
    from apps.trades.services import order_split_submit, split_quantities

    assert split_quantities(10, 3) == [4, 3, 3] and split_quantities(2, 5) == [1, 1]
    children = order_split_submit(buy(10, reference_price=70_000), 3, broker.place_order)
    assert [c.quantity for c in children] == [4, 3, 3]
    assert all(c.kind == "split" for c in children)
    assert {c.parent_id for c in children[1:]} == {children[0].pk}
    broker.fill(children[0].broker_order_no, 4, 70_100)
    reconcile(broker)
    children[0].refresh_from_db()
    assert children[0].slippage == 400  # 4 shares × 100 won above the reference
    broker.calls.clear()
    broker.fail_next(AmbiguousOutcome("lost"))
    stopped = order_split_submit(buy(6), 3, broker.place_order)
    assert [c.status for c in stopped] == [OrderStatus.UNKNOWN]
    assert len(broker.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_async_commit_is_opt_in_and_only_on_the_order_thread(settings) -> None:  # type: ignore[no-untyped-def]
    from apps.trades.services import orderconn as executor

    def setting_in_order_thread() -> str:
        connection.close()  # a new connection: the session setting is applied when it is created
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                return cursor.fetchone()[0]
        finally:
            connection.close()

    assert executor._ORDER_DB.submit(setting_in_order_thread).result(10) == "on"
    settings.TRADES_ORDER_ASYNC_COMMIT = True
    assert executor._ORDER_DB.submit(setting_in_order_thread).result(10) == "off"
    with connection.cursor() as cursor:  # every other thread keeps durable commits
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
