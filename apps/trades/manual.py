"""Manual trading by a trader (the page's form and the API): buy/sell/amend/cancel through the executor.

A buy or sell is written as a `new` order row and sent by the `orders` Celery queue (`trades.order_send`);
an amend or cancel is sent from the request (outside any transaction), like `manage.py order`. A split
request (`split_parts` > 1, or `split_by_depth`) writes a `SplitOrder` parent instead, whose children the
`orders` queue sends on its schedule (`services.split`); cancelling it stops the schedule.

Every request carries an idempotency key (the form's hidden token or the `Idempotency-Key` header): a
double click or a client retry makes one order. A buy/sell passes the key to the executor (unique on the
order row); an amend or cancel claims the key in Redis first, and a repeat answers with the first result.
The broker is called outside any transaction (the executor's rule); callers must not wrap these in one.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from apps.accounts.selectors import active_account_no
from apps.core.rediskeys import redis_key
from apps.trades.models import Cause, Order, SplitMode, SplitOrder
from apps.trades.services.executor import OrderIntent, OrderRefused, order_create
from apps.trades.services.orders import order_amend, order_cancel
from apps.trades.services.split import SplitRequest, split_cancel, split_enqueue

KEY_TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 100


def _key(kind: str, token: str) -> str:
    return redis_key("stockagent", "trades", "manual", kind, token)


def _checked(token: str | None) -> str:
    token = (token or "").strip()
    if not token or len(token) > MAX_KEY_LENGTH:
        raise OrderRefused("멱등 키가 필요합니다 (Idempotency-Key, 최대 100자)", "idempotency")
    return token


def wants_split(data: dict[str, Any]) -> bool:
    return bool(data.get("split_by_depth")) or (data.get("split_parts") or 1) > 1


def manual_split_place(user: Any, data: dict[str, Any], idempotency_key: str | None) -> SplitOrder:
    token = _checked(idempotency_key)
    intent = _intent(user, data, f"manual-split:{token}")
    by_depth = bool(data.get("split_by_depth"))
    request = SplitRequest(
        intent,
        mode=SplitMode.DEPTH if by_depth else SplitMode.TIME,
        parts=data.get("split_parts") or (10 if by_depth else 1),
        interval_seconds=data.get("split_interval") or 0,
    )
    parent, _ = split_enqueue(request)
    return parent


def manual_split_cancel(user: Any, split: SplitOrder, idempotency_key: str | None) -> SplitOrder:
    token = _checked(idempotency_key)
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    key = _key("split-cancel", token)
    try:
        if not client.set(key, str(split.pk), nx=True, ex=KEY_TTL_SECONDS):
            return SplitOrder.objects.get(pk=split.pk)  # a repeat: the first request cancels it
    finally:
        client.close()
    return split_cancel(split.pk, cause=f"user:{user.pk}")


def _intent(user: Any, data: dict[str, Any], key: str) -> OrderIntent:
    return OrderIntent(
        code=data["code"],
        side=data["side"],
        quantity=data["quantity"],
        order_type=data.get("order_type") or "limit",
        price=data.get("price"),
        account_no=active_account_no(),
        strategy_tag=data.get("strategy_tag") or "manual",
        cause=Cause.USER,
        cause_ref=f"user:{user.pk}",
        user=user,
        idempotency_key=key,
        reference_price=data.get("reference_price"),
        slippage_cap_pct=data.get("slippage_cap_pct"),
    )


def manual_order_place(user: Any, data: dict[str, Any], idempotency_key: str | None) -> Order:
    token = _checked(idempotency_key)
    intent = _intent(user, data, f"manual:{token}")
    order, created = order_create(intent)
    if created:
        # The orders queue claims and sends it (once: the claim is a conditional UPDATE).
        from apps.trades.tasks import order_send

        transaction.on_commit(lambda: order_send.delay(str(order.pk)))
    return order


def _once(kind: str, token: str, action) -> Order:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    key = _key(kind, token)
    try:
        if not client.set(key, "pending", nx=True, ex=KEY_TTL_SECONDS):
            done = client.get(key)
            if done and done != b"pending":
                return Order.objects.get(pk=uuid.UUID(done.decode()))
            raise OrderRefused("같은 요청을 처리하는 중입니다", "duplicate")
        try:
            order = action()
        except Exception:
            client.delete(key)  # refused or failed before anything was sent: the key may be reused
            raise
        client.set(key, str(order.pk), ex=KEY_TTL_SECONDS)
        return order
    finally:
        client.close()


def manual_order_cancel(user: Any, order: Order, idempotency_key: str | None) -> Order:
    token = _checked(idempotency_key)
    return _once("cancel", token, lambda: order_cancel(order.pk, cause=f"user:{user.pk}"))


def manual_order_amend(user: Any, order: Order, price: int, idempotency_key: str | None) -> Order:
    token = _checked(idempotency_key)
    return _once("amend", token, lambda: order_amend(order.pk, price, cause=f"user:{user.pk}"))
