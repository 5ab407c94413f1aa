"""The pre-trade check on the money path: the per-account lock, the snapshot, the pure check.

`risk_check` runs inside `order_create`'s transaction (`apps.trades.services.risk_hook`): the lock is
held until the order row commits (or the refusal rolls back), so the next intent of the account waits
and sees this one among the open orders. `after_fill` runs in the books' fill transaction under the
same lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from ..check import Decision, Intent, check
from ..models import RiskStateEvent
from ..snapshot import (
    snapshot_assemble,
    snapshot_build,
    snapshot_cached,
    snapshot_fingerprint_statement,
    snapshot_guard_statement,
    snapshot_parse,
    snapshot_statement,
    snapshot_window,
)
from .lock import account_lock, lock_statement
from .state import evaluate_locked

__all__ = [
    "after_fill",
    "arisk_decide",
    "arisk_guarded_statements",
    "arisk_statements",
    "risk_check",
    "risk_decide_cached",
    "snapshot_fingerprint",
]

# Runs a sync callable in the order path's database thread (the ORM: a cache miss).
InThread = Callable[..., Awaitable[Any]]


def risk_check(
    *,
    account_no: str,
    code: str,
    side: str,
    quantity: int,
    price: int | None,
    reference_price: int | None = None,
    automatic: bool,
    now: dt.datetime | None = None,
) -> Decision:
    """Lock the account and check the intent against a fresh snapshot (inside a transaction)."""
    account_lock(account_no)
    snapshot = snapshot_build(account_no, code, automatic=automatic, now=now)
    intent = Intent(
        code=code,
        side=side,
        quantity=quantity,
        price=price,
        reference_price=reference_price,
        automatic=automatic,
    )
    return check(snapshot, intent)


def arisk_statements(
    account_no: str, now: dt.datetime | None
) -> tuple[list[tuple[str, list[Any]]], tuple[dt.datetime, dt.date]]:
    """The async order path's reads, in its transaction: the lock statement, then the snapshot
    statement (its row goes to `arisk_decide`), and the check's (now, day)."""
    now, day, since = snapshot_window(now)
    statements = [lock_statement(account_no), snapshot_statement(account_no, since, day)]
    return statements, (now, day)


def snapshot_fingerprint(account_no: str, now: dt.datetime | None) -> tuple[str, list[Any]]:
    """The snapshot statement with its row's fingerprint as one more column (no lock: a cache for
    the single round trip, `arisk_guarded_statements`, which checks it under the lock)."""
    _now, day, since = snapshot_window(now)
    return snapshot_fingerprint_statement(account_no, since, day)


def arisk_guarded_statements(
    account_no: str, now: dt.datetime | None, fingerprint: str
) -> tuple[list[tuple[str, list[Any]]], tuple[dt.datetime, dt.date]]:
    """The single round trip's reads: the lock statement, then the snapshot's guard — the snapshot
    read under the lock, whether its fingerprint is still `fingerprint` (a guarded insert writes
    nothing otherwise), the row and its fingerprint; and the check's (now, day)."""
    now, day, since = snapshot_window(now)
    statements = [
        lock_statement(account_no),
        snapshot_guard_statement(account_no, since, day, fingerprint),
    ]
    return statements, (now, day)


def risk_decide_cached(
    row: tuple[Any, ...],
    window: tuple[dt.datetime, dt.date],
    *,
    account_no: str,
    code: str,
    side: str,
    quantity: int,
    price: int | None,
    reference_price: int | None = None,
    automatic: bool,
) -> Decision | None:
    """`arisk_decide` of a snapshot row read before (its fingerprint's row) when every other part
    of the snapshot is in this process's caches; None when one is not (no query is made here)."""
    now, day = window
    raw = snapshot_parse(row)
    if not snapshot_cached(raw, account_no, code, day):
        return None
    snapshot = snapshot_assemble(raw, account_no, code, automatic=automatic, now=now, day=day)
    return check(snapshot, Intent(code, side, quantity, price, reference_price, automatic))


async def arisk_decide(
    in_thread: InThread,
    row: tuple[Any, ...] | None,
    window: tuple[dt.datetime, dt.date],
    *,
    account_no: str,
    code: str,
    side: str,
    quantity: int,
    price: int | None,
    reference_price: int | None = None,
    automatic: bool,
) -> Decision:
    """The pure check of the intent against the snapshot statement's row (`arisk_statements`): the
    snapshot is assembled on the event loop from this process's caches, or in the database thread
    when one misses."""
    if row is None:
        raise RuntimeError("the snapshot statement returned no row")
    decided = risk_decide_cached(
        row,
        window,
        account_no=account_no,
        code=code,
        side=side,
        quantity=quantity,
        price=price,
        reference_price=reference_price,
        automatic=automatic,
    )
    if decided is not None:
        return decided
    now, day = window
    raw = snapshot_parse(row)
    snapshot = await in_thread(
        snapshot_assemble, raw, account_no, code, automatic=automatic, now=now, day=day
    )
    return check(snapshot, Intent(code, side, quantity, price, reference_price, automatic))


def after_fill(account_no: str, at: dt.datetime | None = None) -> RiskStateEvent | None:
    """The books' post-fill hook (the account already locked by the fill's transaction)."""
    return evaluate_locked(account_no, at)
