"""Split orders: one parent (`SplitOrder`) sent as child orders over time (TWAP-like) or sized by the
visible book depth, each child chased with amends up to the slippage cap and then cancelled.

The schedule lives in the database (the `SplitOrder` row), so the `orders` worker can die at any point:
- `split_step` does one step of one parent under a lease (a conditional UPDATE of `lease_until`; a dead
  worker's lease expires after `TRADES_SPLIT_LEASE_SECONDS`). The `trades.split_step` task chains
  itself with a countdown to the next due moment; the beat sweep (`trades.split_sweep`, every few
  seconds) steps every open parent, so a chain lost with a killed worker is picked up again.
- A child is created and counted in one transaction (the parent row locked, `children_sent` bumped,
  idempotency key `split:<parent>:<index>`), then sent by the executor's `order_send` (claim by
  conditional UPDATE, one broker call outside any transaction). A worker that died between the two
  leaves a `new` child, which the next step sends: a child is never created twice, never sent twice.

The rule for the next child: it is sent when it is due (`next_at`, on the exchange's clock, so an
accelerated simulator runs the schedule at its speed) **and** the previous child is no longer live —
filled, or its remainder chased and cancelled (or rejected/expired). Whatever a child left unfilled is
rolled into the later children: a time split's child is `ceil(unfilled / children left)`; a depth split's
child takes what the opposite side shows at levels within the limit (`min(unfilled, visible)`, its price
the worst level it reaches), and waits an interval when nothing is visible there.

The chase: a live child that has not filled `chase_seconds` (exchange clock) after it was sent or last
amended is amended `chase_ticks` towards the market while the chain has fewer than `chase_max_amends`
amends and the new price stays within the bound (`chase_bound`: the slippage cap's price when the parent
has a reference price and a cap, else the parent's own limit, so no chase goes past the trader's price);
then its remainder is cancelled. A child in
`submitted`, `unknown` or `cancel_pending` is left to the 00 frames and reconciliation.

Slippage: every child carries the parent's reference price, so the books record each child's slippage
against it (`Order.slippage`); the parent's is their sum. The parent's filled quantity, amount, average
price, commission and tax are the sums of its children's (amend children included: their fills count
from zero). Cancelling the parent stops the schedule and cancels the open children.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

import krx
from apps.broker.contract import Broker, BrokerError, OrderBookLevel

from ..models import (
    OPEN_STATUSES,
    SPLIT_OPEN_STATUSES,
    Order,
    OrderKind,
    OrderStatus,
    OrderType,
    Position,
    Side,
    SplitMode,
    SplitOrder,
    SplitStatus,
)
from . import risk_hook
from .books import avg
from .executor import OrderIntent, OrderRefused, _market_of, _validate, capped_price, order_send
from .orders import order_amend, order_cancel
from .state import transition
from .txn import require_no_transaction

log = logging.getLogger(__name__)

__all__ = [
    "SplitRequest",
    "chase_bound",
    "depth_take",
    "split_cancel",
    "split_create",
    "split_due_in",
    "split_enqueue",
    "split_open_ids",
    "split_refresh",
    "split_step",
    "splits_expire",
]

CHASEABLE = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


@dataclass
class SplitRequest:
    """What a split parent is asked for: the intent (its quantity is the total) and the schedule."""

    intent: OrderIntent
    mode: str = SplitMode.TIME
    parts: int = 2
    interval_seconds: int = 0
    chase_seconds: int | None = None
    chase_max_amends: int | None = None
    chase_ticks: int | None = None


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _broker(broker: Broker | None) -> Broker:
    if broker is not None:
        return broker
    from apps.broker.backends import get_broker

    return get_broker()


def _exchange_now() -> dt.datetime:
    from apps.broker.backends import exchange_now

    return exchange_now()


# ------------------------------------------------------------------------------------------ create
def split_create(
    request: SplitRequest, *, broker: Broker | None = None, now: dt.datetime | None = None
) -> tuple[SplitOrder, bool]:
    """Validate and write the parent (no child yet). Returns (parent, created); an idempotency key used
    before returns that parent. A slippage cap without a reference price takes the current price as
    the reference (one quote call, before anything is written). Raises `OrderRefused`."""
    intent = request.intent
    _validate(intent)
    if request.mode not in SplitMode.values:
        raise OrderRefused(f"알 수 없는 분할 방식: {request.mode}", "invalid")
    if request.parts < 1 or request.interval_seconds < 0:
        raise OrderRefused("분할 횟수는 1 이상, 간격은 0초 이상이어야 합니다", "invalid")
    if intent.idempotency_key:
        existing = SplitOrder.objects.filter(idempotency_key=intent.idempotency_key).first()
        if existing is not None:
            return existing, False
    account = intent.account_no or _default_account()
    market, name = _market_of(intent.code)
    reference = intent.reference_price
    if intent.slippage_cap_pct is not None and not reference:
        require_no_transaction()
        quote = _broker(broker).quote(intent.code)
        if not quote.price:
            raise OrderRefused(f"{intent.code}의 현재가를 알 수 없어 기준가격을 정할 수 없습니다")
        reference = quote.price
    limit = _limit_price(intent, reference, market)
    if request.mode == SplitMode.DEPTH and limit is None:
        raise OrderRefused(
            "호가 잔량 분할에는 지정가 또는 슬리피지 한도(기준가격 대비 %)가 필요합니다", "invalid"
        )
    risk_hook.check(replace(intent, reference_price=reference))
    if intent.side == Side.SELL:
        held = Position.objects.filter(account_no=account, code=intent.code).first()
        sellable = held.sellable if held else 0
        if sellable < intent.quantity:
            raise OrderRefused(
                f"매도가능수량 부족: {intent.code} {sellable}주만 매도할 수 있습니다 "
                f"(요청 {intent.quantity}주)",
                "insufficient",
            )
    parts = min(request.parts, intent.quantity) if request.mode == SplitMode.TIME else request.parts
    try:
        with transaction.atomic():
            parent = SplitOrder.objects.create(
                account_no=account,
                code=intent.code,
                name=intent.name or name,
                market=market,
                side=intent.side,
                mode=request.mode,
                quantity=intent.quantity,
                limit_price=limit,
                reference_price=reference,
                slippage_cap_pct=intent.slippage_cap_pct,
                parts=parts,
                interval_seconds=request.interval_seconds,
                chase_seconds=_or(request.chase_seconds, "TRADES_SPLIT_CHASE_SECONDS", 30),
                chase_max_amends=_or(request.chase_max_amends, "TRADES_SPLIT_CHASE_MAX_AMENDS", 3),
                chase_ticks=_or(request.chase_ticks, "TRADES_SPLIT_CHASE_TICKS", 1),
                next_at=now or _exchange_now(),
                strategy_tag=intent.strategy_tag,
                cause=intent.cause,
                cause_ref=intent.cause_ref,
                created_by=intent.user,
                idempotency_key=intent.idempotency_key or None,
            )
    except IntegrityError:
        if intent.idempotency_key:
            existing = SplitOrder.objects.filter(idempotency_key=intent.idempotency_key).first()
            if existing is not None:
                return existing, False
        raise
    return parent, True


def _or(value: int | None, setting: str, default: int) -> int:
    return max(0, value) if value is not None else max(0, _setting(setting, default))


def _default_account() -> str:
    from .executor import default_account

    return default_account()


def _limit_price(intent: OrderIntent, reference: int | None, market: str) -> int | None:
    """The children's worst price: the trader's limit, checked against the cap; else the cap's price."""
    cap = None
    if reference and intent.slippage_cap_pct is not None:
        cap = capped_price(intent.side, reference, intent.slippage_cap_pct, market)
    if intent.order_type != OrderType.LIMIT:
        return cap
    price = intent.price
    if cap is not None and price is not None:
        if intent.side == Side.BUY and price > cap:
            raise OrderRefused(
                f"매수 가격 {price}원이 슬리피지 한도 {cap}원을 넘습니다", "slippage"
            )
        if intent.side == Side.SELL and price < cap:
            raise OrderRefused(
                f"매도 가격 {price}원이 슬리피지 한도 {cap}원보다 낮습니다", "slippage"
            )
    return price


def split_enqueue(
    request: SplitRequest, *, broker: Broker | None = None
) -> tuple[SplitOrder, bool]:
    """The manual and command-line path: the parent committed, then `trades.split_step` on the
    `orders` queue sends its first child and chains the rest (the beat sweep backs the chain up).
    A key used before returns the existing parent (created=False) and queues nothing."""
    parent, created = split_create(request, broker=broker)
    if created:
        from ..tasks import split_step as split_step_task

        transaction.on_commit(lambda: split_step_task.delay(str(parent.pk)))
    return parent, created


# ------------------------------------------------------------------------------------------ aggregate
def split_refresh(parent: SplitOrder) -> SplitOrder:
    """The parent's figures from its children's (amend children included)."""
    totals = Order.objects.filter(split=parent).aggregate(
        qty=Sum("filled_quantity"),
        amount=Sum("filled_amount"),
        commission=Sum("commission"),
        tax=Sum("tax"),
        slippage=Sum("slippage"),
    )
    parent.filled_quantity = totals["qty"] or 0
    parent.filled_amount = totals["amount"] or 0
    parent.avg_fill_price = (
        avg(parent.filled_amount, parent.filled_quantity) if parent.filled_quantity else None
    )
    parent.commission = totals["commission"] or 0
    parent.tax = totals["tax"] or 0
    parent.slippage = totals["slippage"]
    SplitOrder.objects.filter(pk=parent.pk).update(
        filled_quantity=parent.filled_quantity,
        filled_amount=parent.filled_amount,
        avg_fill_price=parent.avg_fill_price,
        commission=parent.commission,
        tax=parent.tax,
        slippage=parent.slippage,
        updated_at=timezone.now(),
    )
    return parent


# ------------------------------------------------------------------------------------------ step
def _lease(split_id: uuid.UUID) -> dt.datetime | None:
    """Take the parent for one step (conditional UPDATE); the lease's end, or None when another
    worker holds it (or the parent has ended)."""
    now = timezone.now()
    until = now + dt.timedelta(seconds=_setting("TRADES_SPLIT_LEASE_SECONDS", 60))
    taken = (
        SplitOrder.objects.filter(pk=split_id, status__in=SPLIT_OPEN_STATUSES)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=until)
    )
    return until if taken else None


def split_step(
    split_id: uuid.UUID | str,
    *,
    broker: Broker | None = None,
    now: dt.datetime | None = None,
) -> SplitOrder:
    """One step of one parent: send a stranded child, chase or cancel the live one, send the next one
    when it is due, or close the parent. A step that finds the parent leased elsewhere does nothing."""
    require_no_transaction()
    split_id = uuid.UUID(str(split_id))
    lease = _lease(split_id)
    if lease is None:
        return SplitOrder.objects.get(pk=split_id)
    try:
        parent = SplitOrder.objects.get(pk=split_id)
        _step(parent, _broker(broker), now or _exchange_now())
    finally:
        # Only our own lease: a step that outlived it must not free another worker's.
        SplitOrder.objects.filter(pk=split_id, lease_until=lease).update(lease_until=None)
    return split_refresh(SplitOrder.objects.get(pk=split_id))


def _step(parent: SplitOrder, broker: Broker, now: dt.datetime) -> None:
    split_refresh(parent)
    children = list(Order.objects.filter(split=parent).order_by("created_at"))
    if parent.status == SplitStatus.CANCELLING:
        _cancel_children(parent, children, broker)
        return
    for child in children:
        if child.status == OrderStatus.NEW:
            # Created by a step that died before sending it: the claim makes this the only send.
            order_send(child.pk, broker.place_order)
            return
    live = [c for c in children if c.status in OPEN_STATUSES]
    if live:
        _chase(parent, live, broker, now)
        return
    if parent.filled_quantity >= parent.quantity:
        _finish(parent, SplitStatus.FILLED)
    elif parent.children_sent >= parent.parts:
        _finish(parent, SplitStatus.COMPLETED)
    elif parent.next_at is None or now >= parent.next_at:
        _send_next(parent, broker, now)


def _chase(parent: SplitOrder, live: list[Order], broker: Broker, now: dt.datetime) -> None:
    if any(c.status not in CHASEABLE for c in live):
        return  # an amend or a cancel in flight, or an unknown outcome: frames and reconciliation
    order = live[-1]
    if parent.child_at is not None and now < parent.child_at + dt.timedelta(
        seconds=parent.chase_seconds
    ):
        return
    try:
        _chase_one(parent, order, broker)
    except OrderRefused as exc:
        log.info("split %s: chase of %s refused (%s)", parent.pk, order.pk, exc.reason)
    SplitOrder.objects.filter(pk=parent.pk).update(child_at=now)


def chase_bound(parent: SplitOrder) -> int | None:
    """The worst price a chase may amend to: the slippage cap's price when the parent has one, else
    the parent's own limit (no chase beyond the trader's price); None for market children."""
    if parent.reference_price and parent.slippage_cap_pct is not None:
        return capped_price(
            parent.side, parent.reference_price, parent.slippage_cap_pct, parent.market
        )
    return parent.limit_price


def _chase_one(parent: SplitOrder, order: Order, broker: Broker) -> Order:
    """Amend `chase_ticks` towards the market while the chain has fewer than `chase_max_amends`
    amends and the new price stays within `chase_bound`; otherwise cancel the remainder."""
    amends = Order.objects.filter(
        split=parent, split_index=order.split_index, kind=OrderKind.AMEND
    ).count()
    bound = chase_bound(parent)
    if order.price and bound is not None and amends < parent.chase_max_amends:
        step = parent.chase_ticks if parent.side == Side.BUY else -parent.chase_ticks
        market = parent.market if parent.market in krx.Market.__members__ else krx.Market.KOSPI
        price = krx.step_ticks(order.price, step, market, timezone.localdate())
        within = price <= bound if parent.side == Side.BUY else price >= bound
        if within and price != order.price:
            return order_amend(order.pk, price, cause="split_chase", amend=broker.amend_order)
    return order_cancel(order.pk, cause="split_chase", cancel=broker.cancel_order)


def _next_quantity(parent: SplitOrder, broker: Broker) -> tuple[int, int | None]:
    """(quantity, limit price) of the next child; quantity 0 when the book shows nothing in reach."""
    unfilled = parent.quantity - parent.filled_quantity
    if parent.mode == SplitMode.TIME:
        left = parent.parts - parent.children_sent
        return -(-unfilled // left), parent.limit_price
    book = broker.order_book(parent.code)
    levels = book.asks if parent.side == Side.BUY else book.bids
    return depth_take(parent.side, levels, parent.limit_price or 0, unfilled)


def depth_take(
    side: str, levels: tuple[OrderBookLevel, ...] | list[OrderBookLevel], limit: int, wanted: int
) -> tuple[int, int | None]:
    """Walk the opposite side's levels (best first) within `limit`: (quantity to take, the worst
    price reached). A buy takes asks at or below the limit, a sell bids at or above it."""
    taken, price = 0, None
    for level in levels:
        if level.quantity <= 0:
            continue
        if (side == Side.BUY and level.price > limit) or (
            side == Side.SELL and level.price < limit
        ):
            break
        take = min(level.quantity, wanted - taken)
        taken += take
        price = level.price
        if taken >= wanted:
            break
    return taken, price


def _send_next(parent: SplitOrder, broker: Broker, now: dt.datetime) -> None:
    try:
        quantity, price = _next_quantity(parent, broker)
    except BrokerError as exc:
        log.warning("split %s: order book unavailable (%s); next step retries", parent.pk, exc)
        return
    interval = dt.timedelta(seconds=parent.interval_seconds)
    if quantity <= 0:
        SplitOrder.objects.filter(pk=parent.pk).update(next_at=now + interval)
        return
    try:
        child = _create_child(parent, quantity, price, now)
    except OrderRefused as exc:
        if exc.code == "unknown_pending":
            SplitOrder.objects.filter(pk=parent.pk).update(next_at=now + interval)
            return
        log.warning("split %s: child refused (%s); the parent ends", parent.pk, exc.reason)
        _finish(parent, SplitStatus.COMPLETED, exc.reason)
        return
    if child is not None:
        order_send(child.pk, broker.place_order)


def _create_child(
    parent: SplitOrder, quantity: int, price: int | None, now: dt.datetime
) -> Order | None:
    """One transaction: the child row (through the executor's `order_create`) and the parent's count."""
    from .executor import order_create

    with transaction.atomic():
        locked = SplitOrder.objects.select_for_update().get(pk=parent.pk)
        if locked.status != SplitStatus.RUNNING or locked.children_sent != parent.children_sent:
            return None
        index = locked.children_sent
        intent = OrderIntent(
            code=parent.code,
            side=parent.side,
            quantity=quantity,
            order_type=OrderType.LIMIT if price else OrderType.MARKET,
            price=price,
            account_no=parent.account_no,
            name=parent.name,
            strategy_tag=parent.strategy_tag,
            cause=parent.cause,
            cause_ref=parent.cause_ref or f"split:{parent.pk}",
            user=parent.created_by,
            idempotency_key=f"split:{parent.pk}:{index}",
            reference_price=parent.reference_price,
            slippage_cap_pct=parent.slippage_cap_pct,
            kind="split",
        )
        child, _ = order_create(intent)
        Order.objects.filter(pk=child.pk).update(split=parent, split_index=index)
        locked.children_sent = index + 1
        locked.child_at = now
        locked.next_at = now + dt.timedelta(seconds=parent.interval_seconds)
        locked.save(update_fields=["children_sent", "child_at", "next_at", "updated_at"])
    parent.children_sent = index + 1
    return child


def _finish(parent: SplitOrder, status: str, message: str = "") -> None:
    SplitOrder.objects.filter(pk=parent.pk, status__in=SPLIT_OPEN_STATUSES).update(
        status=status,
        finished_at=timezone.now(),
        message=message[:300],
        updated_at=timezone.now(),
    )
    parent.status = status


# ------------------------------------------------------------------------------------------ cancel
def split_cancel(
    split_id: uuid.UUID | str, *, broker: Broker | None = None, cause: str = "user"
) -> SplitOrder:
    """Stop the schedule and cancel the open children (now, or by the next step for a child whose
    outcome is still pending). Refused once the parent has ended."""
    require_no_transaction()
    split_id = uuid.UUID(str(split_id))
    if not SplitOrder.objects.filter(pk=split_id, status=SplitStatus.RUNNING).update(
        status=SplitStatus.CANCELLING, message=f"cancel:{cause}"[:300], updated_at=timezone.now()
    ):
        parent = SplitOrder.objects.get(pk=split_id)
        if parent.status != SplitStatus.CANCELLING:
            raise OrderRefused(
                f"취소할 수 없는 상태입니다: {parent.get_status_display()}", "not_cancellable"
            )
    return split_step(split_id, broker=broker)


def _cancel_children(parent: SplitOrder, children: list[Order], broker: Broker) -> None:
    pending = 0
    for child in children:
        if child.status == OrderStatus.NEW:
            with transaction.atomic():
                locked = Order.objects.select_for_update().get(pk=child.pk)
                if locked.status == OrderStatus.NEW:  # the claim is conditional: it cannot send now
                    transition(locked, OrderStatus.REJECTED, cause="split_cancelled")
                    continue
            child.refresh_from_db()
        if child.status in CHASEABLE and child.broker_order_no:
            try:
                child = order_cancel(child.pk, cause="split_cancel", cancel=broker.cancel_order)
            except OrderRefused as exc:
                log.info("split %s: cancel of %s refused (%s)", parent.pk, child.pk, exc.reason)
        if child.status in OPEN_STATUSES:
            pending += 1
    if not pending:
        _finish(parent, SplitStatus.CANCELLED, parent.message)


def splits_expire(message: str = "장 마감") -> int:
    """After the close (with the day's orders expired): every open parent ends — `completed`, or
    `cancelled` when it was being cancelled — so no schedule carries into the next session."""
    ended = 0
    for split_id in split_open_ids():
        parent = SplitOrder.objects.get(pk=split_id)
        if Order.objects.filter(split=parent, status__in=OPEN_STATUSES).exists():
            continue  # a child still open (unknown, say): reconciliation settles it first
        split_refresh(parent)
        if parent.status == SplitStatus.CANCELLING:
            _finish(parent, SplitStatus.CANCELLED, parent.message)
        elif parent.filled_quantity >= parent.quantity:
            _finish(parent, SplitStatus.FILLED)
        else:
            _finish(parent, SplitStatus.COMPLETED, message)
        ended += 1
    return ended


# ------------------------------------------------------------------------------------------ timing
def split_due_in(parent: SplitOrder, now: dt.datetime) -> float | None:
    """Exchange-clock seconds until the parent's next step has something to do (None: it has ended)."""
    if parent.status not in SPLIT_OPEN_STATUSES:
        return None
    moments = [m for m in (parent.next_at,) if m is not None]
    if parent.child_at is not None:
        moments.append(parent.child_at + dt.timedelta(seconds=parent.chase_seconds))
    due = [max((m - now).total_seconds(), 0.0) for m in moments]
    return min(due) if due else 0.0


def split_open_ids() -> list[uuid.UUID]:
    return list(
        SplitOrder.objects.filter(status__in=SPLIT_OPEN_STATUSES)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )


def split_totals_check(parent: SplitOrder) -> dict[str, Any]:
    """The parent's figures next to the sums of its children's fills (tests, the detail page)."""
    from ..models import Fill

    fills = Fill.objects.filter(order__split=parent)
    amount = fills.aggregate(s=Sum("amount"))["s"] or 0
    qty = fills.aggregate(s=Sum("quantity"))["s"] or 0
    return {
        "filled_quantity": parent.filled_quantity,
        "fills_quantity": qty,
        "filled_amount": parent.filled_amount,
        "fills_amount": amount,
        "avg_fill_price": parent.avg_fill_price,
        "fills_avg": avg(amount, qty) if qty else Decimal(0),
    }
