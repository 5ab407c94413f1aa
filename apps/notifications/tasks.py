"""Celery tasks of the notifications app (thin: ids in, services do the work)."""

from __future__ import annotations

from celery import shared_task

from apps.notifications.services import delivery_reclaim_stale, delivery_send, due_delivery_ids


@shared_task(
    name="notifications.send_delivery", time_limit=60, soft_time_limit=50, ignore_result=True
)
def send_delivery(delivery_id: int) -> str:
    """Send one delivery; on a retryable failure queue the next attempt at the backoff time."""
    outcome = delivery_send(delivery_id)
    if outcome.retry_at is not None:
        send_delivery.apply_async((delivery_id,), eta=outcome.retry_at)
    return outcome.status


@shared_task(
    name="notifications.dispatch_due", time_limit=60, soft_time_limit=50, ignore_result=True
)
def dispatch_due() -> int:
    """Scheduled by beat: queue every pending delivery whose time has come (held digests, lost tasks)."""
    delivery_reclaim_stale()
    ids = due_delivery_ids()
    for delivery_id in ids:
        send_delivery.delay(delivery_id)
    return len(ids)
