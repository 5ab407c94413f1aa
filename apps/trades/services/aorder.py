"""The executor's async path (the realtime process: strategy entries, risk exits).

`aorder_submit`: the order's transaction runs on the event loop, on the process's own connection
driven as a libpq pipeline (`aorder_create`, `apps.core.pgpipe.Pipe`): BEGIN, the risk lock, the
snapshot, the pure check, the insert, COMMIT — the same statements as `order_create` (built by the same functions: `risk_hook.acheck`,
`insert.insert_statement`), without a thread hop or Django's per-query work. Meanwhile the async REST
client takes the rate-limit slot and the token (`prepare`); the call is made only after the commit,
exactly once, outside any transaction. The record of its outcome runs in the order thread (Django).

Whatever the loop cannot do without a query (a planning cache miss, the snapshot's cached parts on a
miss, a refusal's details) runs in the order thread, as before. The connection is opened on first use
and after a failure (a Postgres restart); an intent whose transaction fails on a dead connection is
refused with `OrderRefused(code="db_unavailable")` — never sent — unless the failure came before the
transaction did anything, where it is retried once on a fresh connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from django import db
from django.conf import settings
from django.db.backends.signals import connection_created

from apps.broker.contract import AmbiguousOutcome, BrokerError, BrokerUnavailable, OrderAck
from apps.core import gcpause
from apps.core.pgpipe import Pipe, Statement

from ..models import Order
from . import risk_hook
from .executor import (
    APlaceFn,
    APrepareFn,
    OrderIntent,
    OrderPlan,
    OrderRefused,
    _broker_args,
    order_of_key,
    order_plan,
    order_plan_cached,
    order_record,
    order_refusal,
)
from .insert import insert_result, insert_statement

log = logging.getLogger(__name__)

__all__ = ["aorder_create", "aorder_db_close", "aorder_statement", "aorder_submit"]

# The realtime path's own database thread (Django): the outcome's record and the rare queries the loop
# cannot make. One thread, so its connection is reused and orders stay ordered.
_ORDER_THREAD = "orders-db"
_ORDER_DB = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=_ORDER_THREAD)


def _async_commit() -> bool:
    return bool(getattr(settings, "TRADES_ORDER_ASYNC_COMMIT", False))


def _order_thread_session(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Opt-in (`TRADES_ORDER_ASYNC_COMMIT`): the order connections commit without waiting for the WAL
    flush. The row is still committed before the call (visible to every process, kept through a crash
    of ours); only a crash of the database server or the machine within ~0.6 s can lose it."""
    if _async_commit() and threading.current_thread().name.startswith(_ORDER_THREAD):
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")


connection_created.connect(_order_thread_session, dispatch_uid="trades-order-thread-session")


def _fresh(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    db.close_old_connections()
    return fn(*args, **kwargs)


async def _order_db(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_ORDER_DB, lambda: _fresh(fn, *args, **kwargs))


def _close_connection() -> None:
    # Resolved in the order thread: `db.connection` is per thread.
    db.connection.close()


# --------------------------------------------------------------------------------- the connection
class _Conn:
    """The event loop's order connection (one per loop; a transaction at a time, under `lock`), driven
    as a libpq pipeline (`apps.core.pgpipe.Pipe`)."""

    def __init__(self) -> None:
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.pipe: Pipe | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock: asyncio.Lock | None = None

    def mine(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.lock is None:
            # A new loop (a test's, a restarted process's): the old connection belongs to the old loop.
            self.finish()
            self.loop, self.lock = loop, asyncio.Lock()
        return self.lock

    def finish(self) -> None:
        """Close the connection (libpq's own close: no round trip to await; the server rolls back a
        transaction the session left open)."""
        conn, self.conn, self.pipe = self.conn, None, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()

    async def get(self) -> Pipe:
        pipe = self.pipe
        if pipe is None or not pipe.usable:
            self.finish()
            conn = await _connect()
            self.conn, self.pipe = conn, Pipe(conn)
            pipe = self.pipe
        return pipe

    async def drop(self) -> None:
        self.finish()


_CONN = _Conn()


async def _connect() -> psycopg.AsyncConnection[Any]:
    """A connection with Django's parameters and adapters (the statements' parameters and rows go
    through them); its statements are prepared once (`Pipe`): the same few run for every order, so
    their plans are made once (the insert's and the snapshot's planning was ≈0.6 ms of the
    transaction)."""
    params = dict(db.connection.get_connection_params())
    params["cursor_factory"] = psycopg.AsyncCursor
    conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    await conn.execute("SELECT set_config('TimeZone', %s, false)", [db.connection.timezone_name])
    if _async_commit():
        await conn.execute("SET synchronous_commit = off")
    return conn


async def _end_open(pipe: Pipe) -> None:
    """After a transaction on `pipe`, whatever happened: nothing of a refused or failed one stays. A
    pipe left mid-sync or with statements queued (an error, a cancelled task) is closed (never are
    abandoned statements sent); an open transaction is rolled back."""
    if not pipe.usable:
        _close(pipe)
        return
    if pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        pipe.queue("ROLLBACK")
        await pipe.sync()
    except psycopg.Error:
        # The session cannot be trusted with a transaction in an unknown state: a new one next time.
        log.warning("order connection: ROLLBACK failed; reconnecting", exc_info=True)
        _close(pipe)
    except asyncio.CancelledError:
        _close(pipe)
        raise


def _close(pipe: Pipe) -> None:
    if _CONN.pipe is pipe:
        _CONN.finish()
    else:
        pipe.close()


async def aorder_db_close() -> None:
    """Close the order connection and the order thread's (the realtime handler's shutdown)."""
    if _CONN.loop is asyncio.get_running_loop():
        await _CONN.drop()
    else:
        _CONN.finish()
    await _order_db(_close_connection)


# --------------------------------------------------------------------------------- create
_KEY_SQL = f"SELECT 1 FROM {Order._meta.db_table} WHERE idempotency_key = %s"  # noqa: S608 - our table


async def aorder_create(intent: OrderIntent) -> tuple[Order, bool]:
    """`order_create(intent, claim=True)` with the transaction on the loop's own connection."""
    # A key is looked up in the transaction's first round trip (no thread hop, no round trip of its
    # own); the unique constraint stays the guarantee (a race ends in `UniqueViolation`, below).
    if order_plan_cached(intent, lookup_key=False):
        plan = order_plan(intent, claim=True, lookup_key=False)
    else:
        plan = await _order_db(order_plan, intent, claim=True)
    if isinstance(plan, Order):
        return plan, False
    async with _CONN.mine():
        for attempt in (1, 2):
            try:
                return await _transaction(plan, intent)
            except _KeyUsed:
                existing = await _order_db(order_of_key, intent.idempotency_key)
                if existing is None:  # pragma: no cover - the key's order cannot vanish
                    raise RuntimeError("an idempotency key's order disappeared") from None
                return existing, False
            except _Stale:
                await _CONN.drop()
                if attempt == 2:
                    break
            except psycopg.OperationalError as exc:
                await _CONN.drop()
                log.error("order %s: the order connection failed: %s", plan.order.pk, exc)
                break
    raise OrderRefused(
        "주문 데이터베이스에 연결할 수 없어 주문을 보내지 않았습니다", "db_unavailable"
    )


class _KeyUsed(Exception):
    """The intent's idempotency key belongs to an order already (the transaction rolls back)."""


class _Stale(Exception):
    """The connection failed before the transaction did anything: safe to retry on a fresh one."""


async def _transaction(plan: OrderPlan, intent: OrderIntent) -> tuple[Order, bool]:
    order = plan.order
    try:
        pipe = await _CONN.get()
    except psycopg.OperationalError as exc:
        log.error("order %s: cannot connect the order connection: %s", order.pk, exc)
        raise OrderRefused(
            "주문 데이터베이스에 연결할 수 없어 주문을 보내지 않았습니다", "db_unavailable"
        ) from None
    started = False
    key: Statement | None = None

    async def run(sql: str, params: list[Any], fetch: bool = True) -> tuple[Any, ...] | None:
        """A statement not fetched is only queued (the lock goes out with BEGIN and the snapshot
        statement: one round trip); a fetch sends what is queued and waits. At the first fetch (the
        snapshot: the same round trip) the key's answer."""
        nonlocal started, key
        statement = pipe.queue(sql, params)
        if not fetch:
            return None
        row = await pipe.fetchone(statement)
        started = True
        if key is not None:
            used, key = await pipe.fetchone(key), None
            if used is not None:
                raise _KeyUsed
        return row

    try:
        # Two round trips: BEGIN + the key + the lock + the snapshot, then the insert + COMMIT (the
        # sync waits for COMMIT's reply: the row is durable before this returns, so before any
        # broker call).
        try:
            pipe.queue("BEGIN")
            if intent.idempotency_key:
                key = pipe.queue(_KEY_SQL, [intent.idempotency_key])
            await risk_hook.acheck(
                run,
                _order_db,
                intent,
                account=plan.account,
                order_type=plan.order_type,
                price=plan.price,
                now=plan.now,
            )
            insert = pipe.queue(*insert_statement(order, plan.journal, plan.reserve))
            pipe.queue("COMMIT")
            row = await pipe.fetchone(insert)
        finally:
            await _end_open(pipe)  # nothing of a refused or failed transaction stays
    except psycopg.OperationalError:
        if not started:  # BEGIN, the lock or the snapshot statement: nothing was done
            raise _Stale from None
        raise
    except OrderRefused as exc:
        await _order_db(risk_hook.after_refusal, plan.account, {r["code"] for r in exc.reasons})
        raise
    except psycopg.errors.UniqueViolation:
        # Two submissions with one key raced: the loser answers with the winner's order.
        existing = await _order_db(order_of_key, intent.idempotency_key)
        if existing is not None:
            return existing, False
        raise
    assert row is not None
    refused = insert_result(order, row)
    if refused is not None:
        raise await _order_db(order_refusal, plan, intent, refused)
    return order, True


# --------------------------------------------------------------------------------- one statement
async def aorder_statement(
    sql: str, params: list[Any], *, wait_for_flush: bool = True
) -> tuple[Any, ...] | None:
    """One statement in a transaction of its own on the loop's order connection — one round trip, no
    thread hop — and its first row. `wait_for_flush=False`: its COMMIT does not wait for the WAL to
    reach the disk (`SET LOCAL synchronous_commit = off`), for a row whose loss in a crash of the
    database server within ~0.2 s costs nothing: e.g. the strategy's signal row, whose order (if
    any) commits durably right after — a durable commit flushes the WAL up to and past every commit
    before it — and whose loss otherwise only lets the signal be decided again.

    Never retried (the statement may have run): a connection error drops the connection (the next
    call opens a new one) and is raised."""
    controls = ["BEGIN"] if wait_for_flush else ["BEGIN", "SET LOCAL synchronous_commit TO off"]
    async with _CONN.mine():
        pipe = await _CONN.get()
        try:
            for control in controls:
                pipe.queue(control)
            main = pipe.queue(sql, params)
            pipe.queue("COMMIT")
            return await pipe.fetchone(main)
        except psycopg.OperationalError:
            await _CONN.drop()
            raise
        finally:
            await _end_open(pipe)


# --------------------------------------------------------------------------------- submit
async def aorder_submit(
    intent: OrderIntent,
    place: APlaceFn,
    *,
    call_limit: float | None = None,
    prepare: APrepareFn | None = None,
) -> Order:
    """The realtime process's path: the row committed on the loop's connection, the call awaited
    on the async client, the outcome recorded in the order thread.

    `prepare` (the async client's `order_slot`): the rate-limit slot and the token are taken while
    the row commits, and the call it returns is made only after the commit; a refused intent leaves
    the slot unused (its task cancelled: nothing is sent)."""
    with gcpause.paused():  # no collector pass between the intent and the broker's reply
        outcome = await _create_and_call(intent, place, call_limit, prepare)
    if isinstance(outcome, Order):
        return outcome  # an earlier order with this key: nothing sent
    order, result = outcome
    return await _order_db(order_record, order.pk, result)


async def _create_and_call(
    intent: OrderIntent,
    place: APlaceFn,
    call_limit: float | None,
    prepare: APrepareFn | None,
) -> Order | tuple[Order, OrderAck | BaseException]:
    early = asyncio.ensure_future(prepare()) if prepare is not None else None
    try:
        order, created = await aorder_create(intent)
    except BaseException:
        _drop(early)
        raise
    if not created:
        _drop(early)
        return order
    limit = call_limit if call_limit is not None else _order_timeout()
    sent = False

    async def call() -> OrderAck:
        nonlocal sent
        fn = place if early is None else await early
        sent = True
        return await fn(**_broker_args(order))

    try:
        outcome: OrderAck | BaseException = await asyncio.wait_for(call(), limit)
    except TimeoutError:
        outcome = (
            AmbiguousOutcome(f"no reply within {limit:.1f}s")
            if sent
            else BrokerUnavailable(f"no rate-limit slot within {limit:.1f}s: not sent")
        )
    except BrokerError as exc:
        outcome = exc
    except Exception as exc:
        if not sent:  # the slot or the token failed: nothing went out
            log.exception("order %s: taking the slot failed; not sent", order.pk)
            outcome = BrokerUnavailable(f"not sent: {exc!r}")
        else:
            log.exception("order %s: unexpected error from the async broker call", order.pk)
            outcome = AmbiguousOutcome(f"unexpected error: {exc!r}")
    return order, outcome


def _drop(task: asyncio.Future[Any] | None) -> None:
    """An order slot taken for an intent that is not sent: cancel the wait (the limiter's waiter
    leaves its queue), or mark a finished task's error as seen."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


def _order_timeout() -> float:
    return float(getattr(settings, "TRADES_ORDER_CALL_TIMEOUT_SECONDS", 0) or 5.0)
