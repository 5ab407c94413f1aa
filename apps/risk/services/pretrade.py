"""The pre-trade check on the money path: the per-account lock, the snapshot, the pure check.

`risk_check` runs inside `order_create`'s transaction (`apps.trades.services.risk_hook`): the lock is
held until the order row commits (or the refusal rolls back), so the next intent of the account waits
and sees this one among the open orders. `after_fill` runs in the books' fill transaction under the
same lock.
"""

from __future__ import annotations

import datetime as dt

from ..check import Decision, Intent, check
from ..models import RiskStateEvent
from ..snapshot import snapshot_build
from .lock import account_lock
from .state import evaluate_locked

__all__ = ["after_fill", "risk_check"]


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


def after_fill(account_no: str, at: dt.datetime | None = None) -> RiskStateEvent | None:
    """The books' post-fill hook (the account already locked by the fill's transaction)."""
    return evaluate_locked(account_no, at)
