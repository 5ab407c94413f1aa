"""Cancel and amend of a live order, and the chase (amend towards the market, then cancel).

Both follow the executor's rule: state and rows committed first, one broker call outside any
transaction, the outcome recorded. An amend is a child order (`kind=amend`, `parent` = the original)
because the broker moves the remainder to a new order number whose fills count from zero; on the
ack the original goes to `replaced` and hands its sell reservation to the child.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction

import krx
from apps.broker.contract import AmbiguousOutcome, AmendAck, BrokerError, CancelAck

from ..models import Order, OrderKind, OrderType, Side
from ..models import OrderStatus as S
from .executor import OrderRefused
from .state import journal, transition
from .txn import require_no_transaction

log = logging.getLogger(__name__)

__all__ = ["order_amend", "order_cancel", "order_chase_step"]

LIVE = (S.ACCEPTED, S.PARTIALLY_FILLED)


def _broker() -> Any:
    from apps.broker.backends import get_broker

    return get_broker()


def _call(fn: Callable[[], Any]) -> Any:
    require_no_transaction()
    try:
        return fn()
    except BrokerError as exc:
        return exc
    except Exception as exc:
        log.exception("unexpected error from a cancel/amend call")
        return AmbiguousOutcome(f"unexpected error: {exc!r}")


# ------------------------------------------------------------------------------------------- cancel
def order_cancel(
    order_id: uuid.UUID, *, cause: str = "user", cancel: Callable | None = None
) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in LIVE or not order.broker_order_no:
            raise OrderRefused(
                f"취소할 수 없는 상태입니다: {order.get_status_display()}", "not_cancellable"
            )
        previous = order.status
        transition(order, S.CANCEL_PENDING, cause=f"cancel:{cause}")
    cancel = cancel or _broker().cancel_order
    outcome = _call(lambda: cancel(order.broker_order_no, order.code, 0))
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != S.CANCEL_PENDING:
            return order  # fills or a 00 frame settled it meanwhile
        if isinstance(outcome, CancelAck):
            target = S.FILLED if order.filled_quantity >= order.quantity else S.CANCELLED
            transition(order, target, cause="cancel_ack")
        elif isinstance(outcome, AmbiguousOutcome):
            # Stays cancel_pending: a 00 frame or reconciliation says how it ended.
            journal(order, order.status, order.status, "cancel_ambiguous", str(outcome))
        else:
            back = previous if order.filled_quantity == 0 else S.PARTIALLY_FILLED
            transition(order, back, cause="cancel_refused", message=str(outcome))
    return order


# ------------------------------------------------------------------------------------------- amend
def order_amend(
    order_id: uuid.UUID, price: int, *, cause: str = "user", amend: Callable | None = None
) -> Order:
    """Amend the whole remainder of a live limit order to `price`. Returns the child order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in LIVE or not order.broker_order_no:
            raise OrderRefused(
                f"정정할 수 없는 상태입니다: {order.get_status_display()}", "not_amendable"
            )
        if order.order_type != OrderType.LIMIT:
            raise OrderRefused("지정가 주문만 정정할 수 있습니다", "not_amendable")
        if Order.objects.filter(
            parent=order, kind=OrderKind.AMEND, status__in=[S.SUBMITTED, S.UNKNOWN]
        ).exists():
            raise OrderRefused("이미 정정 중인 주문입니다", "amend_pending")
        child = Order.objects.create(
            account_no=order.account_no,
            code=order.code,
            name=order.name,
            market=order.market,
            side=order.side,
            order_type=order.order_type,
            exchange=order.exchange,
            quantity=order.remaining,
            price=price,
            status=S.SUBMITTED,
            kind=OrderKind.AMEND,
            parent=order,
            original_order_no=order.broker_order_no,
            strategy_tag=order.strategy_tag,
            cause=order.cause,
            cause_ref=order.cause_ref,
            reference_price=order.reference_price,
            slippage_cap_pct=order.slippage_cap_pct,
            news_score=order.news_score,
            volume_rank=order.volume_rank,
            # A split child's amend stays the parent's child: the parent sums the chain's fills.
            split_id=order.split_id,
            split_index=order.split_index,
        )
        journal(child, S.NEW, S.SUBMITTED, f"amend:{cause}")
    amend = amend or _broker().amend_order
    outcome = _call(lambda: amend(order.broker_order_no, order.code, 0, price))
    return amend_record(child.pk, outcome)


def amend_record(child_id: uuid.UUID, outcome: Any) -> Order:
    with transaction.atomic():
        child = Order.objects.select_for_update().get(pk=child_id)
        parent = Order.objects.select_for_update().get(pk=child.parent_id)
        if child.status not in (S.SUBMITTED, S.UNKNOWN):
            return child
        if isinstance(outcome, AmendAck):
            amend_accepted(parent, child, outcome.order_no, outcome.quantity or child.quantity)
        elif isinstance(outcome, AmbiguousOutcome):
            if child.status == S.SUBMITTED:
                transition(child, S.UNKNOWN, cause="ambiguous", message=str(outcome))
        else:
            transition(child, S.REJECTED, cause="refused", message=str(outcome))
    return child


def amend_accepted(parent: Order, child: Order, order_no: str, quantity: int) -> None:
    """Both rows locked by the caller: the child takes the remainder (and a sell's reservation)."""
    child.broker_order_no = order_no
    child.quantity = max(min(quantity, parent.remaining), child.filled_quantity, 1)
    if parent.side == Side.SELL:
        moved = min(parent.reserved_quantity, child.quantity)
        parent.reserved_quantity -= moved
        child.reserved_quantity = moved
        parent.save(update_fields=["reserved_quantity", "updated_at"])
    child.save(update_fields=["broker_order_no", "quantity", "reserved_quantity", "updated_at"])
    transition(child, S.ACCEPTED, cause="amend_ack")
    if parent.status in LIVE or parent.status in (S.CANCEL_PENDING, S.UNKNOWN):
        transition(parent, S.REPLACED, cause=f"amended:{order_no}")


# ------------------------------------------------------------------------------------------- chase
def order_chase_step(
    order_id: uuid.UUID,
    *,
    max_amends: int = 3,
    ticks: int = 1,
    amend: Callable | None = None,
    cancel: Callable | None = None,
) -> Order:
    """One step of chasing an unfilled remainder: amend `ticks` towards the market while the chain has
    fewer than `max_amends` amends and the slippage cap allows, else cancel. Returns the live order."""
    order = Order.objects.get(pk=order_id)
    if order.status not in LIVE:
        return order
    depth, node = 0, order
    while node.kind == OrderKind.AMEND and node.parent_id:
        depth += 1
        node = Order.objects.get(pk=node.parent_id)
    step = ticks if order.side == Side.BUY else -ticks
    new_price = krx.step_ticks(order.price or 0, step, _market(order.market), _today())
    within_cap = True
    if order.reference_price and order.slippage_cap_pct is not None:
        from .executor import capped_price

        cap = capped_price(order.side, order.reference_price, order.slippage_cap_pct, order.market)
        within_cap = new_price <= cap if order.side == Side.BUY else new_price >= cap
    if depth < max_amends and within_cap and order.price:
        return order_amend(order.pk, new_price, cause="chase", amend=amend)
    return order_cancel(order.pk, cause="chase", cancel=cancel)


def _market(market: str) -> str:
    return market if market in krx.Market.__members__ else krx.Market.KOSPI


def _today() -> Any:
    from django.utils import timezone

    return timezone.localdate()
