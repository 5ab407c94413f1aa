"""Celery tasks of the trades app (thin: ids in, services called).

- `trades.order_send` (queue `orders`): claim and send one order row a trader or a liquidation created.
  Never retried: a task that dies mid-call leaves the order `submitted`, which reconciliation turns
  into `unknown` and resolves against the broker.
- `trades.split_step` / `trades.split_sweep` (queue `orders`): the split orders' schedule
  (`services.split`): a self-chaining step per parent plus a beat sweep of every open parent.
- `trades.reconcile` (queue `orders`): every minute by beat, only while the exchange is in session by its
  own clock (like the condition check); single-flight across workers.
- `trades.expire_day_orders` (queue `orders`): after the close, reconcile and expire what is still live.
- At worker start the worker reconciles once (`worker_ready`).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from apps.core.rediskeys import redis_key

log = logging.getLogger(__name__)

RECONCILE_LOCK = redis_key("stockagent", "trades", "reconcile")


@shared_task(name="trades.order_send", ignore_result=True, acks_late=False, max_retries=0)
def order_send(order_id: str) -> str:
    from apps.trades.services import order_send as send

    return send(order_id).status


@shared_task(name="trades.split_step", ignore_result=True, acks_late=False, max_retries=0)
def split_step(split_id: str) -> str:
    """One step of a split parent, then the next step queued for when it is due (on the exchange's
    clock, converted at its speed). A chain lost with a killed worker is resumed by `split_sweep`."""
    from apps.broker.backends import exchange_clock
    from apps.trades.services.split import split_due_in
    from apps.trades.services.split import split_step as step

    parent = step(split_id)
    now, speed = exchange_clock().reading()
    due = split_due_in(parent, now)
    # Eager mode (tests) would run a countdown at once, recursing: there, one call is one step.
    if due is not None and not split_step.app.conf.task_always_eager:
        sweep = float(getattr(settings, "TRADES_SPLIT_SWEEP_SECONDS", 5))
        wall = due / speed if speed > 0 else sweep
        split_step.apply_async((split_id,), countdown=min(max(wall, 0.2), sweep * 12))
    return parent.status


@shared_task(name="trades.split_sweep", ignore_result=True, time_limit=120, soft_time_limit=100)
def split_sweep() -> int:
    """Beat, every few seconds: one step of every open split parent (the schedule survives a worker
    that died: the parents' state is in the database and each step takes a lease)."""
    from apps.trades.services.split import split_open_ids
    from apps.trades.services.split import split_step as step

    done = 0
    for split_id in split_open_ids():
        try:
            step(split_id)
            done += 1
        except Exception:
            log.exception("split %s: step failed", split_id)
    return done


@shared_task(name="trades.reconcile", ignore_result=True, time_limit=120, soft_time_limit=100)
def reconcile(trigger: str = "schedule", force: bool = False) -> dict[str, Any]:
    from apps.conditions.services import market_is_open
    from apps.trades.services import reconcile as run

    if trigger == "schedule" and not force and not market_is_open():
        return {"skipped": "market closed"}
    lock = redis.Redis.from_url(settings.REDIS_URL).lock(
        RECONCILE_LOCK, timeout=110, blocking=False, thread_local=False
    )
    if not lock.acquire(blocking=False):
        return {"skipped": "another reconciliation is running"}
    try:
        result = run(trigger=trigger)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("reconciliation outlived its lock")
    return {
        "ok": result.run.ok,
        "resolved": len(result.resolved),
        "inserted_fills": result.inserted_fills,
        "differences": result.differences,
    }


@shared_task(name="trades.expire_day_orders", ignore_result=True, time_limit=120)
def expire_day_orders() -> int:
    """After the close (beat, 15:45 KST on weekdays): live day orders end as `expired`."""
    from apps.trades.services import orders_expire
    from apps.trades.services.split import splits_expire

    expired = orders_expire()
    splits_expire()  # split parents end with the session too (their open children just expired)
    return expired


@worker_ready.connect
def _reconcile_at_start(sender: Any = None, **kwargs: Any) -> None:
    if getattr(settings, "TRADES_RECONCILE_AT_START", True):
        reconcile.apply_async(kwargs={"trigger": "startup"})
