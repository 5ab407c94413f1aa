"""The order executor: intent → risk hook → committed order row → one broker call → recorded outcome.

Two paths share this code; only the broker call differs:
- sync (`order_submit`, `order_send`): manual orders and liquidations, through the `orders` Celery
  queue or a management command; the call is `Broker.place_order` (the sync facade, which turns a call
  that ran out of time into `AmbiguousOutcome` and never sends late);
- async (`aorder_submit`, module `aorder`): strategy entries and risk exits inside the realtime
  process: the order's transaction on the loop's own psycopg connection (the same statements:
  `order_plan`, `risk_hook.acheck`, `insert.insert_statement`), the call on the async REST client
  (`place` injected), with the same time limit enforced by `asyncio.wait_for` on the same event loop (so a cancelled call has stopped before we record `unknown`).

Steps (each its own short transaction; the broker is never called inside one):
1. `order_create`: validate, idempotency key (one order per key), then in one transaction the risk
   engine's pre-trade check under the per-account lock (`risk_hook.check`), the unknown guard (no new
   order for a (code, side) while one is `unknown` there), and for a sell the reservation of sellable
   quantity under a row lock on the position — the guard, the reservation, the row and its journal in
   one SQL statement (`insert.order_insert`: one round trip, one commit). With `claim=True` the row is
   created already `submitted` (the low-latency path); otherwise it stays `new` for a queue to claim.
2. `order_claim`: conditional UPDATE new → submitted; zero rows means someone else sends it.
3. the broker call, outside any transaction, exactly once;
4. `order_record`: ack → accepted (with the broker order number), a refusal → rejected (the
   reservation released), `AmbiguousOutcome` → unknown (never a resend: reconciliation decides).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

import krx
from apps.broker.contract import (
    AmbiguousOutcome,
    BrokerError,
    OrderAck,
)
from apps.broker.contract import Exchange as BrokerExchange
from apps.broker.contract import OrderType as BrokerOrderType
from apps.broker.contract import Side as BrokerSide
from krx.codes import is_stock_code

from ..models import Cause, Exchange, Order, OrderStatus, OrderType, Position, Side
from . import risk_hook
from .insert import order_insert, order_new
from .state import journal, order_update_after_commit, transition
from .txn import require_no_transaction

log = logging.getLogger(__name__)

__all__ = [
    "OrderIntent",
    "OrderRefused",
    "capped_price",
    "order_claim",
    "order_create",
    "order_enqueue",
    "order_record",
    "order_send",
    "order_split_submit",
    "order_submit",
    "split_quantities",
]

BROKER_TYPES = {
    OrderType.LIMIT: BrokerOrderType.LIMIT,
    OrderType.MARKET: BrokerOrderType.MARKET,
    OrderType.BEST: BrokerOrderType.BEST_LIMIT,
}

PlaceFn = Callable[..., OrderAck]
APlaceFn = Callable[..., Awaitable[OrderAck]]
APrepareFn = Callable[[], Awaitable[APlaceFn]]


class OrderRefused(ValueError):
    """The intent is not sent; `reason` says why in words a trader understands. Nothing was written."""

    def __init__(
        self, reason: str, code: str = "refused", reasons: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # Every reason that applied ({code, message}); the risk engine's refusals list them all.
        self.reasons = reasons if reasons is not None else [{"code": code, "message": reason}]


@dataclass
class OrderIntent:
    code: str
    side: str  # Side value: "buy" / "sell"
    quantity: int
    order_type: str = OrderType.LIMIT
    price: int | None = None
    account_no: str = ""
    name: str = ""
    exchange: str = Exchange.KRX
    strategy_tag: str = ""
    cause: str = Cause.USER
    cause_ref: str = ""
    user: AbstractBaseUser | None = None
    idempotency_key: str | None = None
    reference_price: int | None = None
    slippage_cap_pct: Decimal | None = None
    parent_id: uuid.UUID | None = None
    kind: str = "single"
    news_score: int | None = None
    volume_rank: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------- create
def default_account() -> str:
    """The active broker account's number (accounts app), else KIWOOM_ACCOUNT."""
    from apps.accounts.selectors import active_account_no

    return active_account_no()


_MARKETS: dict[str, tuple[float, tuple[str, str]]] = {}
_MARKET_TTL_SECONDS = 600.0


def _market_of(code: str) -> tuple[str, str]:
    """(market, name) from the stock master when it knows the code (the tax depends on the market).
    Cached per process for a few minutes: a listing's market does not change within a session, and the
    low-latency path should not pay a query for it."""
    now = time.monotonic()
    hit = _MARKETS.get(code)
    if hit is not None and now - hit[0] < _MARKET_TTL_SECONDS:
        return hit[1]
    from apps.market.models import Instrument

    row = Instrument.objects.filter(code=code).values_list("market", "name").first()
    if row and row[0] in krx.Market.__members__:
        value = (row[0], row[1])
    else:
        value = (krx.Market.KOSPI.value, row[1] if row else "")
    _MARKETS[code] = (now, value)
    return value


def capped_price(side: str, reference: int, cap_pct: Decimal, market: str) -> int:
    """The worst limit price a slippage cap allows: reference ± cap, rounded onto the tick grid
    towards the reference (a buy never pays above the cap, a sell never sells below it)."""
    today = timezone.localdate()
    if side == Side.BUY:
        raw = int(Decimal(reference) * (1 + cap_pct / 100))
        return krx.tick_round(raw, market, today, "down")
    raw = int(
        (Decimal(reference) * (1 - cap_pct / 100)).to_integral_value(rounding="ROUND_CEILING")
    )
    return krx.tick_round(raw, market, today, "up")


_SIDES = frozenset(Side.values)
_ORDER_TYPES = frozenset(OrderType.values)


def _validate(intent: OrderIntent) -> None:
    if intent.side not in _SIDES:
        raise OrderRefused(f"알 수 없는 매매구분: {intent.side}", "invalid")
    if intent.order_type not in _ORDER_TYPES:
        raise OrderRefused(f"알 수 없는 주문유형: {intent.order_type}", "invalid")
    if intent.quantity <= 0:
        raise OrderRefused("주문수량은 1주 이상이어야 합니다", "invalid")
    if intent.order_type == OrderType.LIMIT and not intent.price:
        raise OrderRefused("지정가 주문에는 가격이 필요합니다", "invalid")
    if intent.price is not None and intent.price <= 0:
        raise OrderRefused("주문가격은 0보다 커야 합니다", "invalid")
    if intent.exchange != Exchange.KRX:
        raise OrderRefused("이번 단계에서는 KRX 주문만 지원합니다", "invalid")
    if not is_stock_code(intent.code):
        raise OrderRefused(f"종목코드가 올바르지 않습니다: {intent.code!r}", "invalid")


@dataclass
class OrderPlan:
    """An intent made ready for its transaction (`order_plan`): the unsaved row, its journal, the
    sell's reservation and what the risk check needs. Both paths (`order_create`, the async
    `aorder_create`) run the same statements for it."""

    order: Order
    journal: list[tuple[str, str, str]]
    reserve: int
    account: str
    order_type: str
    price: int | None
    now: Any


def order_plan(
    intent: OrderIntent, *, claim: bool, lookup_key: bool = True, now: Any = None
) -> OrderPlan | Order:
    """Validate and build the row; an idempotency key used before returns the existing order
    (`lookup_key=False`: the caller looks the key up in the order's own transaction). `now`: the
    exchange's time the caller read for the check (else read here)."""
    _validate(intent)
    account = intent.account_no or default_account()
    if intent.idempotency_key and lookup_key:
        existing = Order.objects.filter(idempotency_key=intent.idempotency_key).first()
        if existing is not None:
            return existing
    now = now or risk_hook.exchange_time()
    market, name = _market_of(intent.code)
    order_type, price = intent.order_type, intent.price
    if intent.reference_price and intent.slippage_cap_pct is not None:
        cap = capped_price(intent.side, intent.reference_price, intent.slippage_cap_pct, market)
        if order_type != OrderType.LIMIT:
            # A market order under a cap becomes a limit at the cap: never worse than allowed.
            order_type, price = OrderType.LIMIT, cap
        elif intent.side == Side.BUY and price is not None and price > cap:
            raise OrderRefused(
                f"매수 가격 {price}원이 슬리피지 한도 {cap}원을 넘습니다", "slippage"
            )
        elif intent.side == Side.SELL and price is not None and price < cap:
            raise OrderRefused(
                f"매도 가격 {price}원이 슬리피지 한도 {cap}원보다 낮습니다", "slippage"
            )
    order = order_new(
        account_no=account,
        code=intent.code,
        name=intent.name or name,
        market=market,
        side=intent.side,
        order_type=order_type,
        exchange=intent.exchange,
        quantity=intent.quantity,
        price=price if order_type == OrderType.LIMIT else None,
        strategy_tag=intent.strategy_tag,
        cause=intent.cause,
        cause_ref=intent.cause_ref,
        created_by_id=intent.user.pk if intent.user is not None else None,
        idempotency_key=intent.idempotency_key or None,
        reference_price=intent.reference_price,
        slippage_cap_pct=intent.slippage_cap_pct,
        parent_id=intent.parent_id,
        kind=intent.kind,
        news_score=intent.news_score,
        volume_rank=intent.volume_rank,
    )
    if intent.user is not None:
        Order.created_by.field.set_cached_value(order, intent.user)
    journal_rows = [("new", "new", f"created:{intent.cause}")]
    if claim:
        order.status = OrderStatus.SUBMITTED
        order.submitted_at = timezone.now()
        journal_rows.append(("new", "submitted", "claimed"))
    reserve = intent.quantity if intent.side == Side.SELL else 0
    order.reserved_quantity = reserve
    return OrderPlan(order, journal_rows, reserve, account, order_type, price, now)


def order_plan_cached(intent: OrderIntent, *, lookup_key: bool = True) -> bool:
    """Whether `order_plan(intent, lookup_key=…)` runs without a query (the async path then plans
    on its event loop; it looks an idempotency key up in the order's transaction instead)."""
    return not (intent.idempotency_key and lookup_key) and order_plan_ready(
        intent.code, intent.account_no
    )


def order_plan_ready(code: str, account_no: str) -> bool:
    """Whether an intent for `code` on `account_no` (given: not the default looked up) is planned
    without a query, its key looked up in the order's transaction (`order_plan_cached`)."""
    hit = _MARKETS.get(code)
    return (
        bool(account_no)
        and hit is not None
        and time.monotonic() - hit[0] < _MARKET_TTL_SECONDS
        and risk_hook.exchange_time_ready()
    )


def order_create(intent: OrderIntent, *, claim: bool = False) -> tuple[Order, bool]:
    """Write the order row (and a sell's reservation). Returns (order, created); an idempotency key
    that was used before returns the existing order with created=False. Raises `OrderRefused`."""
    plan = order_plan(intent, claim=claim)
    if isinstance(plan, Order):
        return plan, False
    order = plan.order
    try:
        with transaction.atomic():
            # The risk engine's check under the per-account lock, held until this row commits
            # (the insert runs in this transaction: no savepoint of its own).
            risk_hook.check(
                intent,
                account=plan.account,
                order_type=plan.order_type,
                price=plan.price,
                now=plan.now,
            )
            refused = order_insert(order, plan.journal, reserve=plan.reserve, savepoint=False)
    except OrderRefused as exc:
        risk_hook.after_refusal(plan.account, {r["code"] for r in exc.reasons})
        raise
    except IntegrityError:
        # Two submissions with one key raced: the loser answers with the winner's order.
        existing = order_of_key(intent.idempotency_key)
        if existing is not None:
            return existing, False
        raise
    if refused is not None:
        raise order_refusal(plan, intent, refused)
    if not claim:
        order_update_after_commit(order)  # a claimed order's first push comes with its outcome
    return order, True


def order_of_key(key: str | None) -> Order | None:
    return Order.objects.filter(idempotency_key=key).first() if key else None


def order_refusal(plan: OrderPlan, intent: OrderIntent, refused: Any) -> OrderRefused:
    """The reason the insert wrote nothing: the unknown guard, or the sell's reservation."""
    return _unknown_pending(intent) if refused.unknown else _insufficient(plan.account, intent)


def _unknown_pending(intent: OrderIntent) -> OrderRefused:
    # Kiwoom orders carry no client id: reconciliation matches an unknown order by code, side,
    # quantity, price and time, which only stays unambiguous with one unknown per (code, side).
    return OrderRefused(
        f"{intent.code} {Side(intent.side).label} 주문 중 결과를 확인 중인 주문이 있어 "
        "대사가 끝날 때까지 새 주문을 보내지 않습니다",
        "unknown_pending",
    )


def _insufficient(account: str, intent: OrderIntent) -> OrderRefused:
    """The reason a sell's reservation did not fit (read after the refusal: the figures of the moment)."""
    row = (
        Position.objects.filter(account_no=account, code=intent.code)
        .values_list("quantity", "reserved")
        .first()
    )
    held, reserved = row or (0, 0)
    return OrderRefused(
        f"매도가능수량 부족: {intent.code} 보유 {held}주 중 {reserved}주는 다른 매도 주문이 잡고 있어 "
        f"{max(held - reserved, 0)}주만 매도할 수 있습니다 (요청 {intent.quantity}주)",
        "insufficient",
    )


# --------------------------------------------------------------------------------- claim / record
def order_claim(order_id: uuid.UUID) -> bool:
    """new → submitted by conditional UPDATE: True for the one caller that may send the order."""
    with transaction.atomic():
        claimed = Order.objects.filter(pk=order_id, status=OrderStatus.NEW).update(
            status=OrderStatus.SUBMITTED, submitted_at=timezone.now(), updated_at=timezone.now()
        )
        if claimed:
            journal(Order(pk=order_id), OrderStatus.NEW, OrderStatus.SUBMITTED, "claimed")
    return bool(claimed)


def order_record(order_id: uuid.UUID, outcome: OrderAck | BaseException) -> Order:
    """Record what the one broker call returned."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if isinstance(outcome, OrderAck):
            if not order.broker_order_no:
                order.broker_order_no = outcome.order_no
                order.save(update_fields=["broker_order_no", "updated_at"])
                order_update_after_commit(order)
            if order.status == OrderStatus.SUBMITTED:
                transition(order, OrderStatus.ACCEPTED, cause="ack")
            return order
        if isinstance(outcome, AmbiguousOutcome):
            if order.status == OrderStatus.SUBMITTED:
                transition(order, OrderStatus.UNKNOWN, cause="ambiguous", message=str(outcome))
            return order
        if order.status == OrderStatus.SUBMITTED:
            transition(order, OrderStatus.REJECTED, cause="refused", message=str(outcome))
        return order


def _broker_args(order: Order) -> dict[str, Any]:
    return {
        "side": BrokerSide(order.side),
        "code": order.code,
        "quantity": order.quantity,
        "order_type": BROKER_TYPES[OrderType(order.order_type)],
        "price": order.price,
        "exchange": BrokerExchange(order.exchange),
    }


# --------------------------------------------------------------------------------- sync path
def order_send(order_id: uuid.UUID, place: PlaceFn | None = None) -> Order:
    """Claim and send one `new` order (the orders-queue task). A second call is a no-op."""
    if not order_claim(order_id):
        return Order.objects.get(pk=order_id)
    order = Order.objects.get(pk=order_id)
    order_update_after_commit(order)  # submitted (outside a transaction: at once, not blocking)
    return _send_claimed(order, place)


def _send_claimed(order: Order, place: PlaceFn | None) -> Order:
    require_no_transaction()
    if place is None:
        from apps.broker.backends import get_broker

        place = get_broker().place_order
    try:
        outcome: OrderAck | BaseException = place(**_broker_args(order))
    except BrokerError as exc:
        outcome = exc
    except Exception as exc:  # a bug or a transport error we did not map: the order may be out
        log.exception("order %s: unexpected error from the broker call", order.pk)
        outcome = AmbiguousOutcome(f"unexpected error: {exc!r}")
    return order_record(order.pk, outcome)


def order_enqueue(intent: OrderIntent) -> tuple[Order, bool]:
    """The manual-order path (form, API): the `new` row committed, then `trades.order_send` on the
    `orders` queue claims and sends it. An idempotency key used before returns the existing order
    (created=False) and queues nothing."""
    order, created = order_create(intent)
    if created:
        from ..tasks import order_send as order_send_task

        transaction.on_commit(lambda: order_send_task.delay(str(order.pk)))
    return order, created


def order_submit(intent: OrderIntent, place: PlaceFn | None = None) -> Order:
    """Create, claim and send at once (the command line, liquidations inside a worker)."""
    order, created = order_create(intent, claim=True)
    if not created:
        return order
    return _send_claimed(order, place)


def split_quantities(total: int, parts: int) -> list[int]:
    """`total` in `parts` near-equal child quantities (larger ones first), none empty."""
    parts = max(1, min(parts, total))
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def order_split_submit(
    intent: OrderIntent, parts: int, place: PlaceFn | None = None
) -> list[Order]:
    """Split by quantity: `parts` child orders sent one after the other through the same executor.
    The first child is the parent of the others (`kind=split`); each records its own slippage against
    the intent's reference price. A child that ends `unknown` stops the rest (the unknown guard
    refuses them), so a split never runs ahead of an ambiguous child. Splitting over time is the
    caller's: send the children from a schedule with the same `parent_id`."""
    from dataclasses import replace

    sent: list[Order] = []
    for i, qty in enumerate(split_quantities(intent.quantity, parts)):
        child = replace(
            intent,
            quantity=qty,
            kind="split",
            parent_id=sent[0].pk if sent else intent.parent_id,
            idempotency_key=f"{intent.idempotency_key}:{i}" if intent.idempotency_key else None,
        )
        try:
            sent.append(order_submit(child, place))
        except OrderRefused:
            if not sent:
                raise
            log.warning("split order: child %d of %d refused; the rest is not sent", i + 1, parts)
            break
    return sent
