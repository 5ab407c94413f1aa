"""The trades app's seam to the risk engine (`apps.risk`): a thin shim the executor and the books call.

- `exchange_time()`: the exchange's clock, read before the order's transaction (the simulator's clock
  is an HTTP read: `apps.risk.clock` reads it in the background and extrapolates);
- `check()`: inside `order_create`'s transaction (`astatements` + `adecide`: the async path's), the per-account lock, a fresh snapshot and the pure
  pre-trade check (`apps.risk.check`); a refusal raises `OrderRefused` with every reason;
- `lock()` / `after_fill()`: the books take the same lock before a fill changes a position, and let
  the risk engine halt (or reduce) when the fill breached the daily loss limit (or the reduce share);
- `stop_price()`: in the fill's transaction, the stop price of a position the fill opened or whose
  average price it moved (`apps.risk.stops.position_stop`);
- `after_refusal()`: an intent refused for the daily loss moves the state too (a loss reached by
  prices alone, without a fill).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from .executor import OrderIntent

log = logging.getLogger(__name__)

LOSS_CODES = frozenset({"daily_loss", "loss_budget_reduce"})


def exchange_time() -> dt.datetime:
    """The exchange's clock for the check (cached and refreshed in the background: never waited for)."""
    from apps.risk.clock import exchange_time as risk_exchange_time

    return risk_exchange_time()


def exchange_time_ready() -> bool:
    from apps.risk.clock import ready

    return ready()


def check(
    intent: OrderIntent,
    *,
    account: str | None = None,
    order_type: str | None = None,
    price: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Raise `OrderRefused` (with every reason) when the risk engine refuses the intent.

    With `account` (the executor): must run inside the transaction that saves the order, so the
    account stays locked until it commits. Without (a split parent's whole intent, before any child
    exists): a check of its own under the lock; the limits of one order (its value, the entries per
    minute) are left to each child, which passes this check again when it is saved."""
    from apps.risk.services.pretrade import risk_check

    whole = account is None
    if whole:
        from .executor import default_account

        account = intent.account_no or default_account()
        order_type, price, now = intent.order_type, intent.price, exchange_time()
    args = _check_args(intent, account, order_type, price, now)
    if whole:
        with transaction.atomic():  # the lock for this check only
            decision = risk_check(**args)
    else:
        decision = risk_check(**args)  # inside the order's own transaction (no savepoint)
    _raise_reasons(decision, whole)


def astatements(
    account: str, now: dt.datetime
) -> tuple[list[tuple[str, list[Any]]], tuple[dt.datetime, dt.date]]:
    """`check`'s reads for the async order path, queued in its transaction on its own connection:
    the lock and the snapshot statements (the snapshot's row goes to `adecide`), and the window."""
    from apps.risk.services.pretrade import arisk_statements

    return arisk_statements(account, now)


def fingerprint_statement(account: str, now: dt.datetime) -> tuple[str, list[Any]]:
    """The snapshot statement with the row's fingerprint as its last column (`apps.risk.snapshot`)."""
    from apps.risk.services.pretrade import snapshot_fingerprint

    return snapshot_fingerprint(account, now)


def guarded_statements(
    account: str, now: dt.datetime, fingerprint: str
) -> tuple[list[tuple[str, list[Any]]], tuple[dt.datetime, dt.date]]:
    """The lock and the snapshot's guard (its row: whether the snapshot's fingerprint is still
    `fingerprint` — a guarded insert writes nothing otherwise —, the fresh row, its fingerprint),
    and the window."""
    from apps.risk.services.pretrade import arisk_guarded_statements

    return arisk_guarded_statements(account, now, fingerprint)


def approved_cached(
    row: tuple[Any, ...],
    window: tuple[dt.datetime, dt.date],
    intent: OrderIntent,
    *,
    account: str,
    order_type: str,
    price: int | None,
) -> bool:
    """Whether the check approves the intent against a snapshot row read before, from this
    process's caches alone; False when it refuses or needs a query (the caller then checks
    against a fresh snapshot, which gives the reasons)."""
    from apps.risk.services.pretrade import risk_decide_cached

    args = _check_args(intent, account, order_type, price, None)
    del args["now"]
    decision = risk_decide_cached(row, window, **args)
    if decision is None:
        return False
    from .executor import OrderRefused

    try:
        _raise_reasons(decision, whole=False)  # the one place a decision becomes a refusal
    except OrderRefused:
        return False
    return True


async def adecide(
    in_thread: Any,
    row: tuple[Any, ...] | None,
    window: tuple[dt.datetime, dt.date],
    intent: OrderIntent,
    *,
    account: str,
    order_type: str,
    price: int | None,
) -> None:
    """`check` (with `account`) on the snapshot row `astatements` read, inside the same transaction:
    raises `OrderRefused` with every reason; `in_thread` runs the ORM on a cache miss."""
    from apps.risk.services.pretrade import arisk_decide

    args = _check_args(intent, account, order_type, price, None)
    del args["now"]
    _raise_reasons(await arisk_decide(in_thread, row, window, **args), whole=False)


def _check_args(
    intent: OrderIntent,
    account: str | None,
    order_type: str | None,
    price: int | None,
    now: dt.datetime | None,
) -> dict[str, Any]:
    from ..models import Cause, OrderType

    return {
        "account_no": account,
        "code": intent.code,
        "side": intent.side,
        "quantity": intent.quantity,
        "price": price if order_type == OrderType.LIMIT else None,
        "reference_price": intent.reference_price,
        "automatic": intent.cause == Cause.SIGNAL,
        "now": now,
    }


def _raise_reasons(decision: Any, whole: bool) -> None:
    from .executor import OrderRefused

    # A sell beyond the sellable quantity is refused by the executor's reservation, under the
    # position's row lock and with the held/reserved figures; every other reason is the engine's.
    skip = {"exceeds_position", "order_value", "entry_rate"} if whole else {"exceeds_position"}
    reasons = [r for r in decision.reasons if r.code not in skip]
    if reasons:
        raise OrderRefused(
            " / ".join(r.message for r in reasons),
            reasons[0].code,
            reasons=[{"code": r.code, "message": r.message} for r in reasons],
        )


def lock(account: str) -> None:
    from apps.risk.services.lock import account_lock

    account_lock(account)


def after_fill(account: str, at: dt.datetime | None) -> None:
    """In the fill's transaction: a failure here must never lose the fill (a savepoint)."""
    from apps.risk.services.pretrade import after_fill as risk_after_fill

    try:
        with transaction.atomic():
            risk_after_fill(account, at)
    except Exception:
        log.exception("risk evaluation after a fill of account %s failed", account)


def stop_price(position: Any, day: dt.date, *, opened: bool, previous: int | None) -> int | None:
    """The position's stop after a fill; `previous` when it cannot be computed (never fails the fill)."""
    from apps.risk.stops import position_stop

    try:
        return position_stop(position, day, opened=opened)
    except Exception:
        log.exception("the stop price of %s %s failed", position.account_no, position.code)
        return previous


def after_refusal(account: str, codes: set[str]) -> None:
    if not codes & LOSS_CODES:
        return
    try:
        with transaction.atomic():
            lock(account)
            after_fill(account, None)
    except Exception:
        log.exception("risk evaluation after a refusal of account %s failed", account)
