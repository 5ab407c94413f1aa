"""The order's transaction in one round trip (`aorder._single`): after an order, the account's snapshot
read behind its COMMIT lets the next order be checked before its transaction and written in one round
trip; the guard reads the snapshot again under the account lock and aborts unless it is the same, so a
change the process did not see — made by another connection, even while the order waited for the lock —
is decided on the fresh snapshot by the two round trips, never on the cached one."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django import db

from apps.core.pgpipe import Pipe
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import (
    OrderIntent,
    OrderRefused,
    aorder,
    aorder_create,
    aorder_submit,
    orderconn,
)
from apps.trades.services.aorder import SINGLE_COUNTS, aorder_db_close

pytestmark = pytest.mark.django_db(transaction=True)


def intent(code: str = "005930", side: str = "buy", qty: int = 2) -> OrderIntent:
    return OrderIntent(
        code=code, side=side, quantity=qty, order_type="limit", price=70_000, account_no="A1"
    )


@pytest.fixture(autouse=True)
async def _setup(settings: Any) -> Any:
    settings.RISK_EQUITY_FALLBACK_KRW = 100_000_000
    orderconn.forget_snapshots()
    SINGLE_COUNTS.clear()
    yield
    await aorder_db_close()
    orderconn.forget_snapshots()


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Round trips on the order connection (`Pipe.sync` calls)."""
    counted: list[int] = []
    original = Pipe.sync

    async def sync(self: Pipe, tail: Any = ()) -> Any:
        counted.append(1)
        return await original(self, tail)

    monkeypatch.setattr(Pipe, "sync", sync)
    return counted


def _in_thread(fn: Any) -> Any:
    def run(*args: Any) -> Any:
        try:
            return fn(*args)
        finally:
            db.connection.close()

    return sync_to_async(run, thread_sensitive=False)


@_in_thread
def _codes_ordered() -> list[str]:
    return list(Order.objects.order_by("created_at").values_list("code", flat=True))


@_in_thread
def _hold_position(code: str) -> None:
    Position.objects.create(account_no="A1", code=code, quantity=10, avg_price=10_000)


@_in_thread
def _max_positions(n: int) -> None:
    from apps.risk.services.config import config_update

    config_update({"max_positions": n}, user=None, reason="test")


async def test_the_next_order_of_an_account_takes_one_round_trip(syncs: list[int]) -> None:
    await aorder_create(intent())
    assert SINGLE_COUNTS["taken"] == 0  # nothing read yet: the two round trips
    syncs.clear()
    order, created = await aorder_create(intent())
    assert created and order.status == OrderStatus.SUBMITTED
    assert len(syncs) == 1 and SINGLE_COUNTS["taken"] == 1
    assert await _codes_ordered() == ["005930", "005930"]
    await aorder._CONN.settle()
    pipe = aorder._CONN.pipe
    assert pipe is not None and pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_a_change_the_process_did_not_see_is_decided_on_the_fresh_snapshot() -> None:
    """The cached snapshot would approve (one position of two); another connection opened a second
    position since: the guard aborts the single round trip (nothing written), and the two round trips
    refuse the entry for the limit the fresh snapshot breaks."""
    await _max_positions(2)
    await aorder_create(intent("000270"))  # warms the instrument caches of both codes
    await aorder_create(intent())
    await _in_thread(lambda: Order.objects.filter(code="000270").update(status="cancelled"))()
    await orderconn.refresh()  # what the trades handler does after an order event
    await _hold_position("035720")  # not seen by this process
    with pytest.raises(OrderRefused) as exc:
        await aorder_create(intent("000270"))
    assert exc.value.code == "max_positions"
    assert SINGLE_COUNTS["changed"] == 1
    assert await _codes_ordered() == ["000270", "005930"]


async def test_a_change_committed_while_the_order_waited_for_the_lock_is_seen() -> None:
    """Another connection holds the account lock and opens a position under it; the single round
    trip, queued behind the lock, reads the snapshot after it: refused, never on the cached one."""
    from django.db import transaction

    from apps.risk.services.lock import account_lock

    await _max_positions(2)
    await aorder_create(intent("000270"))
    await aorder_create(intent())
    await _in_thread(lambda: Order.objects.filter(code="000270").update(status="cancelled"))()
    await orderconn.refresh()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                account_lock("A1")
                held.set()
                release.wait(5)
                Position.objects.create(
                    account_no="A1", code="035720", quantity=10, avg_price=10_000
                )
        finally:
            db.connection.close()

    holder = asyncio.get_running_loop().run_in_executor(None, hold)
    await asyncio.to_thread(held.wait, 5)
    task = asyncio.ensure_future(aorder_create(intent("000270")))
    await asyncio.sleep(0.3)
    assert not task.done()  # the single round trip waits on the lock
    release.set()
    await holder
    with pytest.raises(OrderRefused) as exc:
        await asyncio.wait_for(task, 5)
    assert exc.value.code == "max_positions" and SINGLE_COUNTS["changed"] == 1
    assert await _codes_ordered() == ["000270", "005930"]


async def test_a_refusal_on_the_cached_snapshot_takes_the_two_round_trips_for_its_reasons(
    syncs: list[int],
) -> None:
    await _max_positions(1)
    await aorder_create(intent("000270"))  # warms its instrument cache
    await _in_thread(lambda: Order.objects.filter(code="000270").update(status="cancelled"))()
    await aorder_create(intent())
    syncs.clear()
    SINGLE_COUNTS.clear()
    with pytest.raises(OrderRefused) as exc:
        await aorder_create(intent("000270"))
    assert exc.value.code == "max_positions"
    assert SINGLE_COUNTS["not_approved_cached"] == 1 and SINGLE_COUNTS["taken"] == 0
    assert len(syncs) == 2  # the two round trips' first, and the refusal's ROLLBACK


class Sent:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def place(self, **kwargs: Any) -> Any:
        from apps.broker.contract import Exchange, OrderAck

        self.calls.append(kwargs)
        return OrderAck(order_no=f"{len(self.calls):07d}", exchange=Exchange.KRX)


def _losing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next sync's reply is lost: the connection fails after its statements ran (the COMMIT
    with them)."""
    original = Pipe.sync
    lost = {"n": 0}

    async def sync(self: Pipe, tail: Any = ()) -> Any:
        if lost["n"] == 0:
            lost["n"] += 1
            await original(self, tail)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return await original(self, tail)

    monkeypatch.setattr(Pipe, "sync", sync)


async def test_a_reply_lost_after_the_commit_sends_the_committed_order_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one round trip ran (its COMMIT too) but its reply never came: asked on another connection
    by its id, the row is there — the order is sent, once; nothing is written twice."""
    broker = Sent()
    await aorder_submit(intent(), broker.place)
    _losing(monkeypatch)
    order = await aorder_submit(intent(), broker.place)
    assert order.status == OrderStatus.ACCEPTED and len(broker.calls) == 2
    assert SINGLE_COUNTS["lost_committed"] == 1
    assert await _codes_ordered() == ["005930", "005930"]


async def test_a_killed_backend_between_orders_is_replaced() -> None:
    """The backend dies between two orders (a Postgres restart): whichever notices first — reading
    the snapshot sent behind the last COMMIT, or the one round trip itself — the connection is
    replaced and the order made once."""

    @_in_thread
    def terminate(pid: int) -> None:
        with db.connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    await aorder_create(intent())
    old = aorder._CONN.conn
    assert old is not None
    await terminate(old.info.backend_pid)
    _order, created = await aorder_create(intent())
    assert created and aorder._CONN.conn is not old
    assert await _codes_ordered() == ["005930", "005930"]


async def test_a_lost_reply_whose_row_cannot_be_looked_up_is_refused_and_never_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No reply and no database to ask: the order is refused (`db_unavailable`), never sent — the
    row, if its COMMIT ran, is reconciled as any unsent row."""
    from django.db import OperationalError

    broker = Sent()
    await aorder_submit(intent(), broker.place)
    _losing(monkeypatch)

    def away(pk: Any) -> bool:
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(aorder, "_order_exists", away)
    with pytest.raises(OrderRefused) as exc:
        await aorder_submit(intent(), broker.place)
    assert exc.value.code == "db_unavailable" and len(broker.calls) == 1
