"""`in_transaction()`: whether the current code runs inside a database transaction of its own.

The broker is never called inside one (DESIGN.md, "Money paths"). The outer atomic block a test case
wraps around each test is not counted, so the guard holds in tests exactly as in production.
"""

from __future__ import annotations

from django.db import transaction


def in_transaction() -> bool:
    conn = transaction.get_connection()
    return any(not getattr(block, "_from_testcase", False) for block in conn.atomic_blocks)


def require_no_transaction(what: str = "the broker") -> None:
    if in_transaction():
        raise RuntimeError(f"{what} must not be called inside a database transaction")
