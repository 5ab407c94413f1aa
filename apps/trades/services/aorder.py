"""The executor's async path (the realtime process: strategy entries, risk exits).

`aorder_submit`: the order's transaction runs on the event loop, on the process's own connection
driven as a libpq pipeline (`aorder_create`, `apps.core.pgpipe.Pipe`): BEGIN, the risk lock, the
snapshot, the pure check, the insert, COMMIT — the same statements as `order_create` (built by the
same functions: `risk_hook.astatements`/`adecide`, `insert.insert_statement`), without a thread hop
or Django's per-query work. `aorder_submit_led` (the strategy's entries): a statement of the caller's
(the signal's row) goes out in the same round trip as BEGIN, the key, the lock and the snapshot, and
the intent is decided from its row between the two round trips (one round trip fewer). Without a
lead, once the account's snapshot is known from after the last order (`orderconn`), the transaction
is ONE round trip, guarded under the lock (`_single`). Meanwhile the async REST client takes the
rate-limit slot and the token (`prepare`); the call is made only after the commit, exactly once,
outside any transaction, and the realtime feed is not read until its request is out
(`apps.broker.feedhold`). The record of its outcome runs in the order thread (Django).

Whatever the loop cannot do without a query (a planning cache miss, the snapshot's cached parts on a
miss, a refusal's details) runs in the order thread, as before. The connection is opened on first use
and after a failure (a Postgres restart); an intent whose transaction fails on a dead connection is
refused with `OrderRefused(code="db_unavailable")` — never sent — unless the failure came before the
transaction did anything, where it is retried once on a fresh connection.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from django.conf import settings

from apps.broker import feedhold
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
from .orderconn import (
    _CONN,
    _order_db,
    aorder_db_close,
    forget_snapshots,
    keep_snapshot,
    refresh,
    snapshot_of,
)
from .orderconn import close as _close
from .orderconn import end_open as _end_open

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
        for attempt in (0, 1, 2):
            try:
                if attempt == 0:  # one round trip, on the snapshot read after the last order
                    made = await _single(account, now, key_used, lead, settle)
                    if made is _MISS:
                        continue
                    return made  # type: ignore[return-value]
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
    started = committed = False
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
            commit = pipe.queue("COMMIT")
            row = await _commit(pipe, account, now, insert, commit)
            committed = True
        finally:
            if not committed:
                await _end_open(pipe)  # nothing of a refused or failed transaction stays
    except psycopg.OperationalError:
        if not started:  # [the lead,] BEGIN, the lock or the snapshot statement: nothing known
            raise _Stale from None
        raise
    except OrderRefused as exc:
        await _order_db(risk_hook.after_refusal, account, {r["code"] for r in exc.reasons})
        raise
    except psycopg.errors.UniqueViolation as exc:
        return await _raced(key_used, exc)
    return await _inserted(plan, intent, row)


async def _commit(
    pipe: Pipe, account: str, now: Any, insert: Statement, commit: Statement
) -> tuple[Any, ...] | None:
    """Sync the transaction's last statements (the insert, COMMIT) and return the insert's row once
    COMMIT succeeded. Behind the sync point goes the account's fingerprinted snapshot, read when the
    connection is next taken (`orderconn`): the next order's single round trip checks against it."""
    tail = await pipe.sync([risk_hook.fingerprint_statement(account, now)])
    row = await pipe.fetchone(insert)
    await pipe.fetchone(commit)
    _CONN.after_commit(account, tail)
    return row


async def _raced(key_used: str, exc: psycopg.errors.UniqueViolation) -> tuple[Order, bool]:
    """Two submissions with one key raced (`exc`): the loser answers with the winner's order."""
    existing = await _order_db(order_of_key, key_used)
    if existing is None:
        raise exc
    return existing, False


async def _inserted(
    plan: OrderPlan, intent: OrderIntent, row: tuple[Any, ...] | None
) -> tuple[Order, bool]:
    assert row is not None
    refused = insert_result(plan.order, row)
    if refused is not None:
        raise await _order_db(order_refusal, plan, intent, refused)
    return plan.order, True


async def _lost(
    pipe: Pipe, plan: OrderPlan, exc: psycopg.OperationalError
) -> tuple[Order, bool] | _Miss:
    """The one round trip's reply never came (a connection that died since the last order, or during
    this one): whether its COMMIT ran is unknown. Asked on another connection by the row's own id: a
    row there is this order, committed and not sent yet (the caller sends it, once); none, and the
    two round trips make it again — with the same id, so a COMMIT that would still land could only
    collide with it, never make a second order. A failing question raises (`db_unavailable`)."""
    log.warning("order for %s: the order connection failed: %s", plan.account, exc)
    _close(pipe)
    forget_snapshots(plan.account)
    try:
        exists = await _order_db(_order_exists, plan.order.pk)
    except Exception as lookup:  # Django's OperationalError, or psycopg's: the database is away
        log.error("order for %s: its row cannot be looked up: %s", plan.account, lookup)
        raise OrderRefused(
            "주문 데이터베이스에 연결할 수 없어 주문을 보내지 않았습니다", "db_unavailable"
        ) from None
    if not exists:
        SINGLE_COUNTS["lost"] += 1
        return _MISS
    SINGLE_COUNTS["lost_committed"] += 1
    insert_result(plan.order, (False, True))  # the row as written
    return plan.order, True


def _order_exists(pk: Any) -> bool:
    return Order.objects.filter(pk=pk).exists()


class _Miss:
    """The single round trip was not taken, or its snapshot kept changing: take the two."""


_MISS = _Miss()
# One try found the snapshot changed (nothing written): tried again on the fresh row.
_CHANGED = _Miss()
# How the single round trip went in this process (the benches print it): taken; changed (the guard
# found the snapshot changed: nothing written, tried again on the fresh one); lost / lost_committed (no
# reply: `_lost`); and why it was not tried — no snapshot, not approved from the caches.
SINGLE_COUNTS: collections.Counter[str] = collections.Counter()
_SINGLE_TRIES = 2  # a snapshot that changed twice in a row: the two round trips


async def _single(
    account: str, now: Any, key_used: str, lead: Lead | None, settle: _Settle
) -> tuple[Order, bool] | _Miss:
    """The order's transaction in ONE round trip — BEGIN, the key, the lock, the snapshot's guard,
    the guarded insert, COMMIT — when the account's snapshot read after this process's last order or
    refresh (`orderconn.snapshot_of`) is known and the check approves the intent against it from the
    process's caches. The guard reads the snapshot again under the lock and the insert writes only if
    it is that same row (its fingerprint): the check then was the check of the fresh snapshot, made
    under the lock as the two round trips make it — the same decision, one round trip sooner. When
    the snapshot had changed, nothing is written and the guard's row (read under the lock) is checked
    again in one more round trip. `_MISS`: not taken (no snapshot, a lead, a refusal — the two round
    trips give its reasons —, a cache the check would have to fill), or the snapshot kept changing."""
    if lead is not None or not getattr(settings, "TRADES_ORDER_SINGLE_ROUND_TRIP", True):
        return _MISS
    decided = None
    for _try in range(_SINGLE_TRIES):
        try:
            pipe = await _CONN.get()  # reads the last order's snapshot, if it is not read yet
        except psycopg.OperationalError:
            return _MISS  # the two round trips connect again (and report a failure)
        cached = snapshot_of(account)
        if cached is None:
            SINGLE_COUNTS["no_snapshot"] += 1
            return _MISS
        snapshot, fingerprint = cached
        decided = decided or settle(None)
        assert decided is not None  # settled without a lead: always an intent
        plan, intent = decided
        statements, window = risk_hook.guarded_statements(account, now, fingerprint)
        approved = risk_hook.approved_cached(
            snapshot,
            window,
            intent,
            account=plan.account,
            order_type=plan.order_type,
            price=plan.price,
        )
        if not approved:
            SINGLE_COUNTS["not_approved_cached"] += 1
            return _MISS
        made = await _single_try(pipe, account, now, key_used, statements, plan, intent)
        if made is _MISS:
            return _MISS  # the reply was lost and nothing was written: the two round trips
        if made is not _CHANGED:
            SINGLE_COUNTS["taken"] += 1
            return made
        SINGLE_COUNTS["changed"] += 1
    return _MISS


async def _single_try(
    pipe: Pipe,
    account: str,
    now: Any,
    key_used: str,
    statements: list[tuple[str, list[Any]]],
    plan: OrderPlan,
    intent: OrderIntent,
) -> tuple[Order, bool] | _Miss:
    committed = False
    try:
        try:
            pipe.queue("BEGIN")
            key = pipe.queue(_KEY_SQL, [key_used]) if key_used else None
            guard = [pipe.queue(sql, params) for sql, params in statements][-1]
            insert = pipe.queue(
                *insert_statement(plan.order, plan.journal, plan.reserve, guarded=True)
            )
            commit = pipe.queue("COMMIT")
            try:
                tail = await pipe.sync([risk_hook.fingerprint_statement(account, now)])
            except psycopg.OperationalError as exc:
                return await _lost(pipe, plan, exc)
            if key is not None and await pipe.fetchone(key) is not None:
                raise _KeyUsed
            checked = await pipe.fetchone(guard)
            row = await pipe.fetchone(insert)
            await pipe.fetchone(commit)
            committed = True
            _CONN.after_commit(account, tail)
        finally:
            if not committed:
                await _end_open(pipe)
    except psycopg.errors.UniqueViolation as exc:
        return await _raced(key_used, exc)
    assert checked is not None
    if not checked[0]:  # changed since: nothing written; its fresh row, for the next try
        keep_snapshot(account, checked[2:-1], checked[-1])
        return _CHANGED
    return await _inserted(plan, intent, row)


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
    recorded = await _order_db(order_record, order.pk, result)
    await refresh([order.account_no])  # the outcome may have changed the account's snapshot
    return recorded


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

    # The realtime feed is not read from here until the request is written (`apps.broker.feedhold`).
    release = feedhold.hold()
    try:
        made = await create(take_slot)
    except BaseException:
        release()
        _drop(early)
        raise
    if made is None or not made[1]:
        release()
        _drop(early)
        return None if made is None else made[0]
    order = made[0]
    limit = call_limit if call_limit is not None else _order_timeout()
    sent = False

    async def call() -> OrderAck:
        nonlocal sent
        fn = place if early is None else await early
        sent = True
        # Released at the call's first wait: its request handed to the socket by then.
        asyncio.get_running_loop().call_soon(release)
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
    finally:
        release()
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
