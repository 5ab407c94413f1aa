"""The per-account risk lock.

Taking the snapshot, checking and saving an order intent happen under it (`pretrade`), and the books
take it before a fill changes a position (`apps.trades.services.books`), so the check always sees a
consistent, fresh P&L and two processes can never both pass a limit only one fits.

One statement, portable: an upsert of the account's `RiskAccount` row. On PostgreSQL `INSERT … ON
CONFLICT DO UPDATE` takes the row lock (held to the end of the transaction; a second locker waits);
on SQLite any write takes the database's write lock. Lock order: the risk lock before any position
row (an order row may be locked first: nothing holding a position lock ever waits for this one).
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from ..models import RiskAccount

__all__ = ["account_lock", "lock_statement"]

_TABLE = RiskAccount._meta.db_table
_SQL = (
    f"INSERT INTO {_TABLE} (account_no, locked_at) VALUES (%s, %s) "  # noqa: S608
    "ON CONFLICT (account_no) DO UPDATE SET locked_at = EXCLUDED.locked_at"
)


def lock_statement(account_no: str) -> tuple[str, list[object]]:
    """The lock's one statement and its parameters (run inside the order's transaction; the async
    order path runs it on its own connection)."""
    return _SQL, [account_no, timezone.now()]


def account_lock(account_no: str) -> None:
    """Lock `account_no` until the current transaction ends (call inside `transaction.atomic`)."""
    if not connection.in_atomic_block:
        raise RuntimeError("account_lock() must run inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute(*lock_statement(account_no))
