"""The executor's async path (the realtime process: strategy entries, risk exits).

`aorder_submit`: the order's transaction runs on the event loop, on the process's own psycopg
`AsyncConnection` (`aorder_create`): BEGIN, the risk lock, the snapshot, the pure check, the insert,
COMMIT — the same statements as `order_create` (built by the same functions: `risk_hook.acheck`,
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
import contextlib
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
    """The event loop's order connection (one per loop; a transaction at a time, under `lock`)."""

    def __init__(self) -> None:
        self.conn: psycopg.AsyncConnection[Any] | None = None
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
        """Close the connection without its loop (libpq's own close: no round trip to await)."""
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()

    async def get(self) -> psycopg.AsyncConnection[Any]:
        conn = self.conn
        if conn is None or conn.closed or conn.broken:
            self.conn = None
            conn = self.conn = await _connect()
        return conn

    async def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception:  # a broken connection: nothing to close politely
                log.debug("closing the order connection failed", exc_info=True)


_CONN = _Conn()


async def _connect() -> psycopg.AsyncConnection[Any]:
    """A connection with Django's parameters and adapters, but server-side binding and prepared
    statements: the same few statements run for every order, so their plans are made once (the
    insert's and the snapshot's planning was ≈0.6 ms of the transaction)."""
    params = dict(db.connection.get_connection_params())
    params["cursor_factory"] = psycopg.AsyncCursor
    params["prepare_threshold"] = 0
    conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    await conn.execute("SELECT set_config('TimeZone', %s, false)", [db.connection.timezone_name])
    if _async_commit():
        await conn.execute("SET synchronous_commit = off")
    return conn


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


class _Statements:
    """Statements queued on the order connection's pipeline. `rollback_open()` ends a transaction a
    refusal, an error or a cancelled task left open; `close()` closes their cursors."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.cursors: list[psycopg.AsyncCursor[Any]] = []

    async def queue(self, sql: str, params: list[Any] | None = None) -> psycopg.AsyncCursor[Any]:
        """Queue `sql` (without `params`: BEGIN, COMMIT, SET — never a prepared statement)."""
        cursor = self.conn.cursor()
        self.cursors.append(cursor)
        if params is None:
            await cursor.execute(sql, prepare=False)
        else:
            await cursor.execute(sql, params)
        return cursor

    async def rollback_open(self) -> None:
        conn = self.conn
        if (
            not conn.closed
            and not conn.broken
            and conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE
        ):
            await _rollback(conn)

    async def close(self) -> None:
        for cursor in self.cursors:
            with contextlib.suppress(psycopg.Error):
                await cursor.close()


async def _transaction(plan: OrderPlan, intent: OrderIntent) -> tuple[Order, bool]:
    order = plan.order
    try:
        conn = await _CONN.get()
    except psycopg.OperationalError as exc:
        log.error("order %s: cannot connect the order connection: %s", order.pk, exc)
        raise OrderRefused(
            "주문 데이터베이스에 연결할 수 없어 주문을 보내지 않았습니다", "db_unavailable"
        ) from None
    started = False
    statements = _Statements(conn)

    async def run(sql: str, params: list[Any], fetch: bool = True) -> tuple[Any, ...] | None:
        """In pipeline mode: a statement not fetched is only queued (the lock goes out with BEGIN
        and the snapshot statement: one round trip); a fetch sends what is queued and waits."""
        nonlocal started
        cursor = await statements.queue(sql, params)
        if not fetch:
            return None
        row = await cursor.fetchone()
        started = True
        return row

    key_cursor: psycopg.AsyncCursor[Any] | None = None

    async def run_keyed(sql: str, params: list[Any], fetch: bool = True) -> tuple[Any, ...] | None:
        """`run`, and at the first fetch (the snapshot: the same round trip) the key's answer."""
        nonlocal key_cursor
        row = await run(sql, params, fetch)
        if fetch and key_cursor is not None:
            used = await key_cursor.fetchone()
            key_cursor = None
            if used is not None:
                raise _KeyUsed
        return row

    try:
        # BEGIN and COMMIT are written out, not `conn.transaction()`: in pipeline mode psycopg's
        # transaction block nests a pipeline after BEGIN, which syncs — a round trip of its own before
        # the lock. Written out, the transaction is two round trips: BEGIN + the lock + the snapshot,
        # then the insert + COMMIT (the pipeline's sync waits for COMMIT's reply: the row is durable
        # before this returns, so before any broker call).
        try:
            async with conn.pipeline():
                await statements.queue("BEGIN")
                if intent.idempotency_key:
                    key_cursor = await statements.queue(_KEY_SQL, [intent.idempotency_key])
                await risk_hook.acheck(
                    run_keyed,
                    _order_db,
                    intent,
                    account=plan.account,
                    order_type=plan.order_type,
                    price=plan.price,
                    now=plan.now,
                )
                insert = await statements.queue(
                    *insert_statement(order, plan.journal, plan.reserve)
                )
                await statements.queue("COMMIT")
            row = await insert.fetchone()
        finally:
            await statements.rollback_open()  # nothing of a refused or failed transaction stays
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
    finally:
        await statements.close()
    assert row is not None
    refused = insert_result(order, row)
    if refused is not None:
        raise await _order_db(order_refusal, plan, intent, refused)
    return order, True


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.closed or conn.broken:
        return  # the server ends a dead session's transaction itself
    try:
        await conn.execute("ROLLBACK")
    except psycopg.Error:
        # The session cannot be trusted with a transaction in an unknown state: a new one next time.
        log.warning("order connection: ROLLBACK failed; reconnecting", exc_info=True)
        await _CONN.drop()


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
        conn = await _CONN.get()
        statements = _Statements(conn)
        try:
            async with conn.pipeline():
                for control in controls:
                    await statements.queue(control)
                main = await statements.queue(sql, params)
                await statements.queue("COMMIT")
            return await main.fetchone()
        except psycopg.OperationalError:
            await _CONN.drop()
            raise
        finally:
            await statements.rollback_open()
            await statements.close()


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
