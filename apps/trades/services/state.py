"""The order state machine: the one place an order's `status` changes, each change journalled.

`TRANSITIONS` is the whole table; `transition()` refuses anything else with `InvalidTransition`.
It runs inside the caller's transaction with the order row locked (callers lock with
`select_for_update`), writes the `OrderTransition` row, stamps the order's timestamps and releases a
sell order's reservation when the order ends. Every change it saves is pushed after commit as
`order_update` on /ws/live (`order_update_after_commit`; see README "Live messages").
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.live import publish_after_commit

from ..models import FINAL_STATUSES, Order, OrderTransition, Position
from ..models import OrderStatus as S

__all__ = [
    "TRANSITIONS",
    "InvalidTransition",
    "journal",
    "order_update_after_commit",
    "order_update_payload",
    "release_reservation",
    "transition",
]

# from → allowed targets. A fill may arrive before the reply to the place call is recorded (the
# realtime process sees 00 frames at once), so `submitted` may go straight to a fill state; `unknown`
# goes wherever reconciliation finds the order, or to `rejected` when the broker never had it.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.SUBMITTED, S.REJECTED}),
    S.SUBMITTED: frozenset(
        {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.UNKNOWN}
    ),
    S.ACCEPTED: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCEL_PENDING,
            S.CANCELLED,
            S.REPLACED,
            S.REJECTED,
            S.EXPIRED,
        }
    ),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCEL_PENDING, S.CANCELLED, S.REPLACED, S.EXPIRED}),
    S.CANCEL_PENDING: frozenset(
        {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REPLACED, S.EXPIRED}
    ),
    S.UNKNOWN: frozenset(
        {
            S.ACCEPTED,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELLED,
            S.REPLACED,
            S.REJECTED,
            S.EXPIRED,
        }
    ),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REPLACED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


class InvalidTransition(ValueError):
    """A status change the table does not allow."""

    def __init__(self, order: Order, to: str) -> None:
        super().__init__(f"order {order.pk}: {order.status} → {to} is not allowed")
        self.from_status = order.status
        self.to_status = to


def can_transition(from_status: str, to: str) -> bool:
    return to in TRANSITIONS.get(from_status, frozenset())


def journal(order: Order, from_status: str, to: str, cause: str = "", message: str = "") -> None:
    OrderTransition.objects.create(
        order=order,
        from_status=from_status,
        to_status=to,
        cause=cause[:100],
        message=message[:300],
    )


def transition(
    order: Order,
    to: str,
    *,
    cause: str = "",
    message: str = "",
    also_save: tuple[str, ...] | list[str] = (),
) -> Order:
    """Move `order` (locked by the caller, inside a transaction) to `to` and journal it. Saves the
    status fields and `also_save` (the caller's other changes) in one UPDATE."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transition() must run inside a transaction")
    if order.status == to:
        if also_save:
            order.save(update_fields=[*also_save, "updated_at"])
            order_update_after_commit(order)
        return order
    if not can_transition(order.status, to):
        raise InvalidTransition(order, to)
    previous = order.status
    order.status = to
    now = timezone.now()
    fields = ["status", "updated_at", *also_save]
    if to == S.SUBMITTED and order.submitted_at is None:
        order.submitted_at = now
        fields.append("submitted_at")
    if to in {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED} and order.accepted_at is None:
        order.accepted_at = now
        fields.append("accepted_at")
    if to in FINAL_STATUSES:
        order.finished_at = now
        fields.append("finished_at")
        if order.reserved_quantity:
            release_reservation(order)
            fields.append("reserved_quantity")
    if message:
        order.message = message[:300]
        fields.append("message")
    order.save(update_fields=list(dict.fromkeys(fields)))
    journal(order, previous, to, cause, message)
    order_update_after_commit(order)
    return order


def order_update_payload(order: Order) -> dict[str, Any]:
    """The `order_update` message of /ws/live: the order's state as the books hold it."""
    return {
        "order_id": str(order.pk),
        "code": order.code,
        "side": order.side,
        "status": order.status,
        "quantity": order.quantity,
        "filled_qty": order.filled_quantity,
        "avg_price": order.avg_fill_price,  # Decimal to the 0.01 won, sent as a string; null before a fill
        "broker_order_no": order.broker_order_no,
        "updated_at": order.updated_at,
    }


def order_update_after_commit(order: Order) -> None:
    """Push the order's current state after the transaction commits (nothing on a rollback). The
    publisher keeps only the newest unsent `order_update` of an order (a snapshot, keyed by its id)."""
    publish_after_commit("order_update", order_update_payload(order), key=str(order.pk))


def release_reservation(order: Order, quantity: int | None = None) -> int:
    """Give back (part of) the sellable quantity a sell order holds. Returns what was released."""
    qty = order.reserved_quantity if quantity is None else min(quantity, order.reserved_quantity)
    if qty <= 0:
        return 0
    Position.objects.filter(account_no=order.account_no, code=order.code).update(
        reserved=F("reserved") - qty
    )
    order.reserved_quantity -= qty
    return qty
