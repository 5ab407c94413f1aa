"""`aorder_submit(..., prepare=...)`: the rate-limit slot and the token are taken while the order row
commits, and the call is made only after the commit; a refused intent never sends, a slot that could
not be taken sends nothing and the order ends `rejected` (not `unknown`)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django import db

from apps.broker.contract import BrokerUnavailable, Exchange, OrderAck
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import OrderIntent, OrderRefused, aorder_submit
from apps.trades.services.aorder import aorder_db_close

pytestmark = pytest.mark.django_db(transaction=True)


def intent(side: str = "buy", qty: int = 2) -> OrderIntent:
    return OrderIntent(
        code="005930", side=side, quantity=qty, order_type="limit", price=70_000, account_no="A1"
    )


def _status_seen_elsewhere(code: str) -> list[str]:
    """The order rows as another connection sees them (committed only)."""
    try:
        return list(Order.objects.filter(code=code).values_list("status", flat=True))
    finally:
        db.connection.close()


class Broker:
    def __init__(self, slot_delay: float = 0.0, slot_error: BaseException | None = None) -> None:
        self.slot_delay, self.slot_error = slot_delay, slot_error
        self.slots = 0
        self.sent: list[dict[str, Any]] = []
        self.seen_at_send: list[list[str]] = []
        self.cancelled = False

    async def place(self, **kwargs: Any) -> OrderAck:  # the plain path: must not be used
        raise AssertionError("the held slot's call must be used")

    async def prepare(self) -> Any:
        try:
            await asyncio.sleep(self.slot_delay)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.slot_error is not None:
            raise self.slot_error
        self.slots += 1

        async def held(**kwargs: Any) -> OrderAck:
            self.seen_at_send.append(await asyncio.to_thread(_status_seen_elsewhere, "005930"))
            self.sent.append(kwargs)
            return OrderAck(order_no=f"{len(self.sent):07d}", exchange=Exchange.KRX)

        return held


@pytest.fixture(autouse=True)
async def _close_order_thread() -> Any:
    yield
    await aorder_db_close()


async def test_the_held_slot_sends_once_after_the_commit() -> None:
    broker = Broker(slot_delay=0.01)
    order = await aorder_submit(intent(), broker.place, prepare=broker.prepare)
    assert order.status == OrderStatus.ACCEPTED and order.broker_order_no == "0000001"
    assert broker.slots == 1 and len(broker.sent) == 1
    assert broker.seen_at_send == [[OrderStatus.SUBMITTED]]  # committed before the call


async def test_a_refused_intent_never_sends_and_its_slot_wait_is_cancelled() -> None:
    broker = Broker(slot_delay=1.0)
    with pytest.raises(OrderRefused) as exc:
        await aorder_submit(intent("sell"), broker.place, prepare=broker.prepare)  # nothing held
    assert exc.value.code == "insufficient"
    await asyncio.sleep(0)
    assert broker.sent == [] and broker.cancelled


async def test_no_slot_means_rejected_and_the_reservation_released() -> None:
    await asyncio.to_thread(_position)
    broker = Broker(slot_error=BrokerUnavailable("shared Redis unavailable: ConnectionError"))
    order = await aorder_submit(intent("sell"), broker.place, prepare=broker.prepare)
    assert order.status == OrderStatus.REJECTED and broker.sent == []
    assert await asyncio.to_thread(_reserved) == 0


async def test_a_slot_not_had_within_the_limit_is_rejected_not_unknown() -> None:
    broker = Broker(slot_delay=5.0)
    order = await aorder_submit(intent(), broker.place, prepare=broker.prepare, call_limit=0.2)
    assert order.status == OrderStatus.REJECTED and broker.sent == [] and broker.cancelled


async def test_a_call_without_reply_within_the_limit_is_unknown() -> None:
    broker = Broker()

    async def prepare() -> Any:
        async def held(**kwargs: Any) -> OrderAck:
            broker.sent.append(kwargs)
            await asyncio.sleep(5)
            raise AssertionError("unreachable")

        return held

    order = await aorder_submit(intent(), broker.place, prepare=prepare, call_limit=0.2)
    assert order.status == OrderStatus.UNKNOWN and len(broker.sent) == 1


def _position() -> None:
    try:
        Position.objects.create(account_no="A1", code="005930", quantity=5, avg_price=70_000)
    finally:
        db.connection.close()


def _reserved() -> int:
    try:
        return Position.objects.get(account_no="A1", code="005930").reserved
    finally:
        db.connection.close()


# --------------------------------------------------------------------------------- the loop's connection
async def _count_thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from apps.trades.services import aorder

    hops: list[str] = []
    original = aorder._order_db

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(aorder, "_order_db", counting)
    return hops


async def test_a_warm_intent_commits_on_the_loop_without_a_thread_hop(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from apps.trades.services import aorder_create

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    await aorder_create(intent())  # warms the caches (market, configuration, opening equity, …)
    hops = await _count_thread_hops(monkeypatch)
    order, created = await aorder_create(intent())
    assert created and hops == []
    assert await asyncio.to_thread(_status_seen_elsewhere, "005930") == [OrderStatus.SUBMITTED] * 2
    assert order.status == OrderStatus.SUBMITTED


async def test_a_dead_order_connection_is_replaced(settings: Any) -> None:
    """A Postgres restart kills the connection: the next intent reconnects (the failure came before
    the transaction did anything) and is written once."""
    from apps.trades.services import aorder, aorder_create

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    await aorder_create(intent())
    old = aorder._CONN.conn
    assert old is not None
    await asyncio.to_thread(_terminate_backend, old.info.backend_pid)
    _order, created = await aorder_create(intent())
    assert created and aorder._CONN.conn is not old
    assert len(await asyncio.to_thread(_status_seen_elsewhere, "005930")) == 2


async def test_no_database_refuses_the_intent_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg

    from apps.trades.services import aorder, orderconn

    await aorder._CONN.drop()

    async def down() -> Any:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(orderconn, "_connect", down)
    broker = Broker()
    with pytest.raises(OrderRefused) as exc:
        await aorder_submit(intent(), broker.place, prepare=broker.prepare)
    assert exc.value.code == "db_unavailable" and broker.sent == []
    assert await asyncio.to_thread(_status_seen_elsewhere, "005930") == []


def _terminate_backend(pid: int) -> None:
    try:
        with db.connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        db.connection.close()


async def test_the_async_path_waits_for_the_account_lock_of_another_connection(
    settings: Any,
) -> None:
    """The same per-account lock as the sync path: while another transaction holds it (a fill, a
    sync order), the loop's transaction waits, then sees what that one committed."""
    import threading
    import time

    from apps.risk.services.lock import account_lock
    from apps.trades.services import aorder_create

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    await aorder_create(intent())  # warm
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                account_lock("A1")
                held.set()
                release.wait(5)
        finally:
            db.connection.close()

    holder = asyncio.get_running_loop().run_in_executor(None, hold)
    await asyncio.to_thread(held.wait, 5)
    task = asyncio.ensure_future(aorder_create(intent()))
    await asyncio.sleep(0.3)
    assert not task.done()  # waiting on the lock
    t0 = time.monotonic()
    release.set()
    await holder
    _order, created = await asyncio.wait_for(task, 5)
    assert created and time.monotonic() - t0 < 2


async def test_a_risk_refusal_rolls_back_and_the_connection_stays_usable(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from apps.trades.services import aorder_create, risk_hook

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    original = risk_hook._raise_reasons

    def refuse(decision: Any, whole: bool) -> None:
        raise OrderRefused("한도 초과", "order_value")

    monkeypatch.setattr(risk_hook, "_raise_reasons", refuse)
    with pytest.raises(OrderRefused):
        await aorder_create(intent())
    monkeypatch.setattr(risk_hook, "_raise_reasons", original)
    assert await asyncio.to_thread(_status_seen_elsewhere, "005930") == []
    _order, created = await aorder_create(intent())
    assert created


async def test_an_idempotency_key_race_answers_with_the_winner(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Both planned before either committed: the loser's insert hits the unique key and it
    answers with the winner's order (nothing written twice, the connection usable)."""
    from dataclasses import replace

    from apps.trades.services import aorder, aorder_create, order_create

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    keyed = replace(intent(), idempotency_key="k-1")
    plan = aorder.order_plan

    def winner() -> None:
        try:
            order_create(replace(keyed), claim=True)  # the winner commits first
        finally:
            db.connection.close()

    def plan_then_lose(*args: Any, **kwargs: Any) -> Any:
        planned = plan(*args, **kwargs)
        # Planned on the loop when warm: the winner commits from a thread of its own meanwhile.
        thread = threading.Thread(target=winner)
        thread.start()
        thread.join()
        return planned

    monkeypatch.setattr(aorder, "order_plan", plan_then_lose)
    order, created = await aorder_create(keyed)
    assert not created and order.idempotency_key == "k-1"
    assert len(await asyncio.to_thread(_status_seen_elsewhere, "005930")) == 1
    monkeypatch.setattr(aorder, "order_plan", plan)
    _order, created = await aorder_create(intent())
    assert created


def _account_lock_free(account_no: str) -> bool:
    """Can another connection take the account's risk lock at once (no transaction holds it)?"""
    from django.db import connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            cursor.execute(
                "SELECT 1 FROM risk_riskaccount WHERE account_no = %s FOR UPDATE", [account_no]
            )
        return True
    except db.OperationalError:
        return False
    finally:
        db.connection.close()


async def test_a_refusal_inside_the_transaction_leaves_no_transaction_open(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """BEGIN and COMMIT are written out in the pipeline: a refusal after the lock must roll back
    (the lock released at once, the connection idle), not leave the transaction to the next order."""
    import psycopg

    from apps.trades.services import aorder, aorder_create, risk_hook

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    await aorder_create(intent())  # the account's lock row exists
    monkeypatch.setattr(
        risk_hook,
        "_raise_reasons",
        lambda decision, whole: (_ for _ in ()).throw(OrderRefused("한도 초과", "order_value")),
    )
    with pytest.raises(OrderRefused):
        await aorder_create(intent())
    conn = aorder._CONN.conn
    assert conn is not None
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    account = (await asyncio.to_thread(_orders_account)) or ""
    assert await asyncio.to_thread(_account_lock_free, account)


def _orders_account() -> str | None:
    try:
        return Order.objects.values_list("account_no", flat=True).first()
    finally:
        db.connection.close()


async def test_a_keyed_intent_looks_its_key_up_in_the_transaction(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A strategy's intent carries an idempotency key: warm, it is planned on the loop and its key
    read in the transaction's first round trip (no thread hop); a key used before answers with its
    order before the risk check can say anything, and nothing new is written."""
    from dataclasses import replace

    import psycopg

    from apps.trades.services import aorder, aorder_create, risk_hook

    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    await aorder_create(intent())  # warms the caches
    hops = await _count_thread_hops(monkeypatch)
    first, created = await aorder_create(replace(intent(), idempotency_key="signal:k-9"))
    assert created and hops == []
    monkeypatch.setattr(
        risk_hook,
        "_raise_reasons",
        lambda decision, whole: (_ for _ in ()).throw(OrderRefused("한도 초과", "order_value")),
    )
    again, created = await aorder_create(replace(intent(), idempotency_key="signal:k-9"))
    assert not created and again.pk == first.pk
    assert hops == ["order_of_key"]
    assert len(await asyncio.to_thread(_status_seen_elsewhere, "005930")) == 2
    conn = aorder._CONN.conn
    assert conn is not None
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE  # rolled back


async def test_the_feed_is_held_from_the_intent_until_the_request_is_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`apps.broker.feedhold`: the realtime feed's sockets are not read while the order is made and its
    request written; read again once the call waits for its reply — and after a refusal."""
    from apps.broker import feedhold
    from apps.broker.tests.test_feedhold import Transport

    monkeypatch.setattr(feedhold, "MAX_HOLD_SECONDS", 5.0)  # a cold first order is slow
    feed = Transport()
    feedhold.register(feed)
    try:
        reading_at_send: list[bool] = []
        broker = Broker()

        async def prepare() -> Any:
            async def held(**kwargs: Any) -> OrderAck:
                reading_at_send.append(feed.reading)
                await asyncio.sleep(0.01)  # the reply's wait: the feed is read meanwhile
                reading_at_send.append(feed.reading)
                broker.sent.append(kwargs)
                return OrderAck(order_no="0000001", exchange=Exchange.KRX)

            return held

        order = await aorder_submit(intent(), broker.place, prepare=prepare)
        assert order.status == OrderStatus.ACCEPTED
        assert reading_at_send == [False, True] and feed.reading
        with pytest.raises(OrderRefused):
            await aorder_submit(intent("sell", 100), broker.place, prepare=prepare)
        assert feed.reading and not feedhold.active()
        assert feed.calls == ["pause", "resume", "pause", "resume"]
    finally:
        feedhold.unregister(feed)
