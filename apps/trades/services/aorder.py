"""The executor's async path (the realtime process: strategy entries, risk exits).

`aorder_submit`: the order's transaction runs on the event loop, on the process's own connection
driven as a libpq pipeline (`aorder_create`, `apps.core.pgpipe.Pipe`): BEGIN, the risk lock, the
snapshot, the pure check, the insert, COMMIT — the same statements as `order_create` (built by the
same functions: `risk_hook.astatements`/`adecide`, `insert.insert_statement`), without a thread hop
or Django's per-query work. `aorder_submit_led` (the strategy's entries): a statement of the caller's
(the signal's row) goes out in the same round trip as BEGIN, the key, the lock and the snapshot, and
the intent is decided from its row between the two round trips (one round trip fewer). Meanwhile the async REST
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
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from django import db
from django.conf import settings
from django.db.backends.signals import connection_created

from apps.broker.contract import AmbiguousOutcome, BrokerError, BrokerUnavailable, OrderAck
from apps.core import gcpause
from apps.core.pgpipe import Pipe

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

__all__ = [
    "Decide",
    "Lead",
    "LeadFailed",
    "aorder_create",
    "aorder_create_led",
    "aorder_db_close",
    "aorder_statement",
    "aorder_submit",
    "aorder_submit_led",
]

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
    transaction).

    Made once, that is, with `plan_cache_mode = force_generic_plan`: left to choose, PostgreSQL kept
    planning the snapshot statement anew for every order (a custom plan: ≈0.45 ms of planning at each
    bind, on the order's first round trip). Every statement this connection runs reads by keys and
    indexes whatever the values — the snapshot's last-minute entries as a closed range, so the
    generic plan reads the `created_at` index (`apps.risk.snapshot.snapshot_statement`); measured
    with 1,000,000 orders in the table: the snapshot 0.18 ms generic, 0.43 ms custom."""
    params = dict(db.connection.get_connection_params())
    params["cursor_factory"] = psycopg.AsyncCursor
    conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
    await conn.execute("SELECT set_config('TimeZone', %s, false)", [db.connection.timezone_name])
    await conn.execute("SET plan_cache_mode = force_generic_plan")
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


# The led path (`aorder_create_led`): a statement of the caller's that goes out with the order's first
# round trip, in a transaction of its own; and the decision made from its row between the round trips.
Lead = tuple[str, list[Any]]
Decide = Callable[[tuple[Any, ...] | None], OrderIntent | None]
# A transaction whose COMMIT does not wait for the WAL flush (the lead's; `aorder_statement`'s).
_LEAD_CONTROLS = ("BEGIN", "SET LOCAL synchronous_commit TO off")
_Settle = Callable[[tuple[Any, ...] | None], tuple[OrderPlan, OrderIntent] | None]


class LeadFailed(Exception):
    """The order connection failed before the lead statement's reply: whether it ran is unknown; no
    order was made. The caller takes its slow path, which finds the lead's row if it ran."""


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
    known = plan
    made = await _create(
        plan.account, plan.now, intent.idempotency_key, None, lambda _: (known, intent)
    )
    assert made is not None  # settled without a lead: always an intent
    return made


async def aorder_create_led(
    lead: Lead,
    decide: Decide,
    *,
    account: str,
    idempotency_key: str,
    on_intent: Callable[[], None] | None = None,
) -> tuple[Order, bool] | None:
    """The lead statement and the order's transaction in two round trips where they took three.

    The lead runs in a transaction of its own that commits without waiting for the WAL flush (as
    `aorder_statement(wait_for_flush=False)`: the order's durable commit right after flushes it too);
    it goes out with the order's BEGIN, key, lock and snapshot statements. `decide(lead's row)` then
    runs on the loop (no await: the account stays locked meanwhile) and gives the intent — of
    `account`, with `idempotency_key` — or None: no order, the order's transaction rolls back (the
    lead stays committed). The intent is planned on the loop (the caller checked `order_plan_ready`),
    checked and inserted as `aorder_create` does; None when `decide` said no. `on_intent` is called
    when `decide` made an intent (`aorder_submit_led`: the order's rate-limit slot is taken from then
    on, during the second round trip — never for a signal that makes no order). Raises `LeadFailed`
    when the lead's outcome is unknown, and what `aorder_create` raises."""
    now = risk_hook.exchange_time()

    def settle(row: tuple[Any, ...] | None) -> tuple[OrderPlan, OrderIntent] | None:
        intent = decide(row)
        if intent is None:
            return None
        if intent.account_no != account or intent.idempotency_key != idempotency_key:
            raise ValueError("a led intent must be of the account and key its transaction locked")
        plan = order_plan(intent, claim=True, lookup_key=False, now=now)
        assert isinstance(plan, OrderPlan)  # without a key lookup: never an existing order
        if on_intent is not None:
            on_intent()
        return plan, intent

    return await _create(account, now, idempotency_key, lead, settle)


async def _create(
    account: str, now: Any, key_used: str, lead: Lead | None, settle: _Settle
) -> tuple[Order, bool] | None:
    async with _CONN.mine():
        for attempt in (1, 2):
            try:
                return await _transaction(account, now, key_used, lead, settle)
            except _KeyUsed:
                existing = await _order_db(order_of_key, key_used)
                if existing is None:  # pragma: no cover - the key's order cannot vanish
                    raise RuntimeError("an idempotency key's order disappeared") from None
                return existing, False
            except _Stale:
                await _CONN.drop()
                if lead is not None:
                    raise LeadFailed from None
                if attempt == 2:
                    break
            except psycopg.OperationalError as exc:
                await _CONN.drop()
                log.error("order for %s: the order connection failed: %s", account, exc)
                break
    raise OrderRefused(
        "주문 데이터베이스에 연결할 수 없어 주문을 보내지 않았습니다", "db_unavailable"
    )


class _KeyUsed(Exception):
    """The intent's idempotency key belongs to an order already (the transaction rolls back)."""


class _Stale(Exception):
    """The connection failed before the transaction did anything: safe to retry on a fresh one."""


async def _transaction(
    account: str, now: Any, key_used: str, lead: Lead | None, settle: _Settle
) -> tuple[Order, bool] | None:
    try:
        pipe = await _CONN.get()
    except psycopg.OperationalError as exc:
        log.error("order for %s: cannot connect the order connection: %s", account, exc)
        if lead is not None:
            raise LeadFailed from None
        raise OrderRefused(
            "주문 데이터베이스에 연결할 수 없어 주문을 보내지 않았습니다", "db_unavailable"
        ) from None
    started = False
    try:
        # Two round trips: [the lead +] BEGIN + the key + the lock + the snapshot, then the insert +
        # COMMIT (the sync waits for COMMIT's reply: the row is durable before this returns, so
        # before any broker call).
        try:
            head = None
            if lead is not None:
                for control in _LEAD_CONTROLS:
                    pipe.queue(control)
                head = pipe.queue(*lead)
                pipe.queue("COMMIT")
            pipe.queue("BEGIN")
            key = pipe.queue(_KEY_SQL, [key_used]) if key_used else None
            statements, window = risk_hook.astatements(account, now)
            snapshot = [pipe.queue(sql, params) for sql, params in statements][-1]
            await pipe.sync()
            started = True
            lead_row = None
            if head is not None:
                try:
                    lead_row = await pipe.fetchone(head)
                except psycopg.OperationalError:
                    started = False  # the lead failed: everything after it in the sync was skipped
                    raise
            decided = settle(lead_row)
            if decided is None:
                return None
            plan, intent = decided
            if key is not None and await pipe.fetchone(key) is not None:
                raise _KeyUsed
            await risk_hook.adecide(
                _order_db,
                await pipe.fetchone(snapshot),
                window,
                intent,
                account=plan.account,
                order_type=plan.order_type,
                price=plan.price,
            )
            insert = pipe.queue(*insert_statement(plan.order, plan.journal, plan.reserve))
            pipe.queue("COMMIT")
            row = await pipe.fetchone(insert)
        finally:
            await _end_open(pipe)  # nothing of a refused or failed transaction stays
    except psycopg.OperationalError:
        if not started:  # [the lead,] BEGIN, the lock or the snapshot statement: nothing known
            raise _Stale from None
        raise
    except OrderRefused as exc:
        await _order_db(risk_hook.after_refusal, account, {r["code"] for r in exc.reasons})
        raise
    except psycopg.errors.UniqueViolation:
        # Two submissions with one key raced: the loser answers with the winner's order.
        existing = await _order_db(order_of_key, key_used)
        if existing is not None:
            return existing, False
        raise
    assert row is not None
    refused = insert_result(plan.order, row)
    if refused is not None:
        raise await _order_db(order_refusal, plan, intent, refused)
    return plan.order, True


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
    controls = ("BEGIN",) if wait_for_flush else _LEAD_CONTROLS
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

    async def create(take_slot: Callable[[], None]) -> tuple[Order, bool]:
        take_slot()  # while the row commits
        return await aorder_create(intent)

    order = await _submit(create, place, call_limit, prepare)
    assert order is not None  # an intent always ends in an order or a refusal
    return order


async def aorder_submit_led(
    lead: Lead,
    decide: Decide,
    place: APlaceFn,
    *,
    account: str,
    idempotency_key: str,
    call_limit: float | None = None,
    prepare: APrepareFn | None = None,
) -> Order | None:
    """`aorder_submit` of the intent `decide` makes from the lead statement's row
    (`aorder_create_led`: one round trip fewer); None when it made none (nothing sent). The slot
    is taken once `decide` made an intent (a gated or duplicate signal takes none)."""

    def create(take_slot: Callable[[], None]) -> Awaitable[tuple[Order, bool] | None]:
        return aorder_create_led(
            lead, decide, account=account, idempotency_key=idempotency_key, on_intent=take_slot
        )

    return await _submit(create, place, call_limit, prepare)


# Makes the order (or not: None) and calls its argument when the order's rate-limit slot may be taken.
_Create = Callable[[Callable[[], None]], Awaitable[tuple[Order, bool] | None]]


async def _submit(
    create: _Create,
    place: APlaceFn,
    call_limit: float | None,
    prepare: APrepareFn | None,
) -> Order | None:
    with gcpause.paused():  # no collector pass between the intent and the broker's reply
        outcome = await _create_and_call(create, place, call_limit, prepare)
    if outcome is None or isinstance(outcome, Order):
        return outcome  # nothing made, or an earlier order with this key: nothing sent
    order, result = outcome
    return await _order_db(order_record, order.pk, result)


async def _create_and_call(
    create: _Create,
    place: APlaceFn,
    call_limit: float | None,
    prepare: APrepareFn | None,
) -> Order | tuple[Order, OrderAck | BaseException] | None:
    early: asyncio.Future[Any] | None = None

    def take_slot() -> None:
        nonlocal early
        if prepare is not None and early is None:
            early = asyncio.ensure_future(prepare())

    try:
        made = await create(take_slot)
    except BaseException:
        _drop(early)
        raise
    if made is None or not made[1]:
        _drop(early)
        return None if made is None else made[0]
    order = made[0]
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
