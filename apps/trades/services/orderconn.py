"""The realtime process's order connections (`aorder`): one PostgreSQL connection per event loop, driven
as a libpq pipeline (`apps.core.pgpipe.Pipe`), a transaction at a time; the order thread (Django: the
outcome's record, the rare queries the loop cannot make); and the account snapshots the pipeline's sync
tails bring back (the single round trip's cache, `snapshot_of`).

After each order's COMMIT the order path sends, behind the commit's sync point, the account's risk
snapshot with its fingerprint (`risk_hook.fingerprint_statement`); its result is not waited for (the
broker call goes out meanwhile) but read when the connection is next taken (`Conn.get`), which keeps
it as the account's cached snapshot. The cache is only ever a guess: the single round trip checks it
under the account lock (`apps.risk.snapshot.snapshot_guard_statement`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from django import db
from django.conf import settings
from django.db.backends.signals import connection_created

from apps.core.pgpipe import Pipe, Statement

log = logging.getLogger(__name__)

__all__ = [
    "_CONN",
    "Conn",
    "aorder_db_close",
    "close",
    "end_open",
    "forget_snapshots",
    "keep_snapshot",
    "refresh",
    "snapshot_of",
]

# account -> (the snapshot statement's row, its fingerprint), as read after this process's last order.
_SNAPSHOTS: dict[str, tuple[tuple[Any, ...], str]] = {}
_ACCOUNTS: set[str] = set()  # the accounts this process made orders for (`refresh` reads them)


def snapshot_of(account: str) -> tuple[tuple[Any, ...], str] | None:
    """The account's snapshot row and fingerprint read after this process's last order, if any."""
    return _SNAPSHOTS.get(account)


def keep_snapshot(account: str, row: tuple[Any, ...], fingerprint: str) -> None:
    """Keep `row` (the snapshot statement's columns) and its fingerprint as the account's."""
    _SNAPSHOTS[account] = (row, fingerprint)


def forget_snapshots(account: str | None = None) -> None:
    if account is None:
        _SNAPSHOTS.clear()
        _ACCOUNTS.clear()
    else:
        _SNAPSHOTS.pop(account, None)


def _async_commit() -> bool:
    return bool(getattr(settings, "TRADES_ORDER_ASYNC_COMMIT", False))


# The realtime path's own database thread (Django): the outcome's record and the rare queries the loop
# cannot make. One thread, so its connection is reused and orders stay ordered.
_ORDER_THREAD = "orders-db"
_ORDER_DB = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=_ORDER_THREAD)


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


async def aorder_db_close() -> None:
    """Close the order connection and the order thread's (the realtime handler's shutdown)."""
    if _CONN.loop is asyncio.get_running_loop():
        await _CONN.drop()
    else:
        _CONN.finish()
    await _order_db(_close_connection)


class Conn:
    """The event loop's order connection (one per loop; a transaction at a time, under `lock`), driven
    as a libpq pipeline (`apps.core.pgpipe.Pipe`)."""

    def __init__(self) -> None:
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.pipe: Pipe | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock: asyncio.Lock | None = None
        # (account, its snapshot statement) sent behind the last sync (`after_commit`, `refresh`),
        # read by `get`
        self.refresh: list[tuple[str, Statement]] = []

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
        conn, self.conn, self.pipe, self.refresh = self.conn, None, None, []
        if conn is not None and not conn.closed:
            conn.pgconn.finish()

    async def get(self) -> Pipe:
        pipe = self.pipe
        if pipe is not None and pipe.draining:
            await self._drain(pipe)
        if pipe is None or not pipe.usable:
            self.finish()
            conn = await _connect()
            self.conn, self.pipe = conn, Pipe(conn)
            pipe = self.pipe
        return pipe

    async def drop(self) -> None:
        self.finish()

    async def settle(self) -> None:
        """Read the last sync's tail now, if any (tests: the connection idle afterwards)."""
        if self.pipe is not None and self.pipe.draining:
            await self._drain(self.pipe)

    def after_commit(self, account: str, tail: list[Statement]) -> None:
        """`tail` (a sync's, `Pipe.sync(tail=…)`) holds `account`'s fingerprinted snapshot."""
        self.refresh = [(account, tail[0])] if tail else []
        _ACCOUNTS.add(account)

    async def _drain(self, pipe: Pipe) -> None:
        """Read the last sync's tail; keep the snapshots it brought. A failure closes the connection
        (`get` opens a new one); the snapshots are then forgotten (the next order reads fresh ones)."""
        refresh, self.refresh = self.refresh, []
        try:
            await pipe.drain()
        except psycopg.Error as exc:
            log.info("order connection: reading the accounts' snapshots failed: %s", exc)
            for account, _statement in refresh:
                forget_snapshots(account)
            close(pipe)
            return
        except asyncio.CancelledError:
            close(pipe)
            raise
        for account, statement in refresh:
            row = statement.row
            if statement.error is None and row is not None and row[-1] is not None:
                keep_snapshot(account, row[:-1], row[-1])
            else:
                forget_snapshots(account)


_CONN = Conn()


async def refresh(accounts: Iterable[str] | None = None) -> None:
    """Read the snapshots of `accounts` (default: every account this process has one of) again,
    after a change the order path did not make (an order's outcome, a fill, a price written, a
    change by another process): sent at once and not waited for — `Conn.get` reads the rows when
    the connection is next taken. Never raises (a failure only leaves the single round trip's
    guard to catch a changed snapshot). Call on the loop that places the orders."""
    from . import risk_hook

    names = sorted(set(accounts) if accounts is not None else _ACCOUNTS)
    if not names:
        return
    try:
        async with _CONN.mine():
            pipe = await _CONN.get()
            now = risk_hook.exchange_time()
            sent = pipe.send([risk_hook.fingerprint_statement(a, now) for a in names])
            _CONN.refresh = list(zip(names, sent, strict=True))
    except (psycopg.Error, OSError) as exc:
        log.info("order connection: refreshing the accounts' snapshots failed: %s", exc)
        forget_snapshots()


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


async def end_open(pipe: Pipe) -> None:
    """After a transaction on `pipe`, whatever happened: nothing of a refused or failed one stays. A
    pipe left mid-sync or with statements queued (an error, a cancelled task) is closed (never are
    abandoned statements sent); an open transaction is rolled back. A sync's tail is read first (the
    tail of a transaction that failed: its statement failed too, in the aborted transaction)."""
    if pipe.draining and _CONN.pipe is pipe:
        await _CONN._drain(pipe)
        if _CONN.pipe is not pipe:
            return  # the connection failed: closed
    if not pipe.usable:
        close(pipe)
        return
    if pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        pipe.queue("ROLLBACK")
        await pipe.sync()
    except psycopg.Error:
        # The session cannot be trusted with a transaction in an unknown state: a new one next time.
        log.warning("order connection: ROLLBACK failed; reconnecting", exc_info=True)
        close(pipe)
    except asyncio.CancelledError:
        close(pipe)
        raise


def close(pipe: Pipe) -> None:
    """Close `pipe`'s connection (the next `get` opens a new one)."""
    if _CONN.pipe is pipe:
        _CONN.finish()
    else:
        pipe.close()
