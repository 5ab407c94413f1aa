"""Broker order reports → the books: one function for a 00 frame, the poll and reconciliation.

`BrokerOrderReport` is a plain snapshot of one broker order (its number, cumulative fills and status),
built from an `OrderEvent` (00 frame), an `OpenOrder` (ka10075), a `Fill` row (ka10076) or an
`OrderState`. `report_apply()` finds our order by broker order number, records the fill step (if
any) and moves the status; it answers `UNMATCHED` when no order of ours carries that number yet (the
reply to the place call may still be on its way: the caller retries a little later, and
reconciliation catches whatever is left).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.broker.contract import Fill as BrokerFill
from apps.broker.contract import OpenOrder, OrderEvent
from apps.broker.contract import OrderStatus as BS

from ..models import FillSource, Order
from ..models import OrderStatus as S
from .books import fill_locked
from .state import can_transition, order_update_after_commit, transition

log = logging.getLogger(__name__)

__all__ = ["Applied", "BrokerOrderReport", "report_apply", "report_from_event"]


class Applied(enum.Enum):
    APPLIED = "applied"
    UNMATCHED = "unmatched"
    IGNORED = "ignored"


@dataclass(frozen=True)
class BrokerOrderReport:
    order_no: str
    original_order_no: str | None
    code: str
    side: str
    quantity: int
    price: int | None
    cum_quantity: int
    cum_amount: int
    status: BS
    at: dt.datetime | None
    source: str
    execution_no: str | None = None
    remaining: int | None = None
    account: str = ""
    exact_amount: bool = True  # False: amount derived from an average price (ka10076)
    unit_price: int | None = None  # this execution alone (a 00 frame's 914/915)
    unit_quantity: int | None = None

    @property
    def is_open(self) -> bool:
        return not self.status.is_final and (self.remaining is None or self.remaining > 0)


def report_from_event(ev: OrderEvent) -> BrokerOrderReport:
    remaining = ev.remaining
    cum = ev.filled_quantity
    if cum is None:
        cum = max(ev.quantity - remaining, 0) if ev.filled_value else 0
    return BrokerOrderReport(
        order_no=ev.order_no,
        original_order_no=ev.original_order_no,
        code=ev.code,
        side=ev.side.value,
        quantity=ev.quantity,
        price=ev.price,
        cum_quantity=cum,
        cum_amount=ev.filled_value,
        status=ev.status,
        at=ev.at,
        source=FillSource.REALTIME,
        execution_no=ev.execution_no,
        remaining=remaining,
        account=ev.account,
        unit_price=ev.unit_fill_price,
        unit_quantity=ev.unit_fill_quantity,
    )


def report_from_open_order(o: OpenOrder, source: str = FillSource.POLL) -> BrokerOrderReport:
    return BrokerOrderReport(
        order_no=o.order_no,
        original_order_no=o.original_order_no,
        code=o.code,
        side=o.side.value,
        quantity=o.quantity,
        price=o.price,
        cum_quantity=o.filled_quantity,
        cum_amount=o.filled_value,
        status=o.status,
        at=o.at,
        source=source,
        remaining=o.remaining,
    )


def report_from_fill(f: BrokerFill, source: str = FillSource.POLL) -> BrokerOrderReport:
    # ka10076 gives the average fill price, not the cumulative amount: the amount is rebuilt from it
    # (exact whenever the broker's average is exact; a 00 frame, when it came first, was exact).
    return BrokerOrderReport(
        order_no=f.order_no,
        original_order_no=f.original_order_no,
        code=f.code,
        side=f.side.value,
        quantity=f.order_quantity,
        price=f.order_price,
        cum_quantity=f.fill_quantity,
        cum_amount=(f.fill_price or 0) * f.fill_quantity,
        status=f.status,
        at=f.at,
        source=source,
        remaining=f.remaining,
        exact_amount=False,
    )


def _lookup(report: BrokerOrderReport) -> Any:
    """Our order for a report, as a queryset (the broker's number; a cancel confirmation may carry
    the cancel's own number and point at the original)."""
    numbers = [report.order_no]
    if report.status == BS.CANCELLED and report.original_order_no:
        numbers.append(report.original_order_no)
    return Order.objects.filter(broker_order_no__in=numbers).order_by("-created_at")


def find_order(report: BrokerOrderReport) -> Order | None:
    return _lookup(report).first()


def report_apply(report: BrokerOrderReport, order: Order | None = None) -> Applied:
    """Fill step and status of one broker report, in one transaction with the order row locked.

    A report that changes nothing (the same fill from the other source, a repeated status) is answered
    from one plain read, without the lock: taking a row lock is a write whose commit waits for the
    WAL flush. That read may only be older than the locked row, and an order only moves forward
    (cumulative quantities grow, final states stay), so "nothing to do" then stays true."""
    current = Order.objects.filter(pk=order.pk).first() if order is not None else find_order(report)
    if current is None:
        return Applied.UNMATCHED
    if not _needs_write(current, report):
        return Applied.APPLIED
    with transaction.atomic():
        locked = Order.objects.select_for_update().filter(pk=current.pk).first()
        if locked is None:
            return Applied.UNMATCHED
        cum_amount = report.cum_amount
        if (
            not cum_amount
            and report.unit_price
            and report.unit_quantity
            and report.cum_quantity == locked.filled_quantity + report.unit_quantity
        ):
            # A frame without the cumulative amount (FID 903) but with its own execution, right
            # after the last recorded step: the amount is the recorded one plus this execution.
            cum_amount = locked.filled_amount + report.unit_price * report.unit_quantity
        if report.cum_quantity > locked.filled_quantity and cum_amount > locked.filled_amount:
            fill_locked(
                locked,
                cum_quantity=min(report.cum_quantity, locked.quantity),
                cum_amount=cum_amount,
                executed_at=report.at or timezone.now(),
                source=report.source,
                execution_no=report.execution_no,
            )
        _status_locked(locked, report)
    return Applied.APPLIED


def _needs_write(order: Order, report: BrokerOrderReport) -> bool:
    if report.cum_quantity > order.filled_quantity:
        return True  # a fill step (whether it is one, the locked path decides)
    if order.is_final:
        return False
    if not order.broker_order_no and report.order_no:
        return True
    target = _target(order, report)
    return bool(target and target != order.status and can_transition(order.status, target))


def status_apply(order_id: object, report: BrokerOrderReport) -> None:
    """Move the order's status to what the broker reports (fills themselves are `fill_apply`'s)."""
    with transaction.atomic():
        _status_locked(Order.objects.select_for_update().get(pk=order_id), report)


def _status_locked(order: Order, report: BrokerOrderReport) -> None:
    if order.is_final:
        return
    if not order.broker_order_no and report.order_no:
        order.broker_order_no = report.order_no
        order.save(update_fields=["broker_order_no", "updated_at"])
        order_update_after_commit(order)
    target = _target(order, report)
    if target and target != order.status and can_transition(order.status, target):
        transition(order, target, cause=f"broker:{report.source}")


def _target(order: Order, report: BrokerOrderReport) -> str | None:
    status = report.status
    if status == BS.REJECTED:
        return S.REJECTED
    if status == BS.CANCELLED:
        return S.FILLED if order.filled_quantity >= order.quantity else S.CANCELLED
    if status == BS.REPLACED:
        return None  # the amend's own record moves the original (services.orders)
    if order.filled_quantity >= order.quantity:
        return S.FILLED
    if order.status in (S.SUBMITTED, S.UNKNOWN):
        return S.PARTIALLY_FILLED if order.filled_quantity else S.ACCEPTED
    return None
