"""Celery tasks of the notifications app (thin: ids in, services do the work)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from apps.notifications.services import (
    deliveries_orphaned,
    delivery_reclaim_stale,
    delivery_send,
    due_delivery_ids,
)

log = logging.getLogger(__name__)
# Earlier than any claim this process makes (tasks run only after this module is imported): a send
# claimed under this worker's name before this moment was claimed by a previous life of the worker.
LOADED_AT = timezone.now()


@shared_task(
    name="notifications.send_delivery", time_limit=60, soft_time_limit=50, ignore_result=True
)
def send_delivery(delivery_id: int) -> str:
    """Send one delivery; on a retryable failure queue the next attempt at the backoff time."""
    outcome = delivery_send(delivery_id, worker=send_delivery.request.hostname or "")
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


@worker_ready.connect
def settle_orphaned_sends(sender: Any = None, **kwargs: Any) -> None:
    """A worker starting again under its node name settles at once the sends its previous life left in
    ``sending`` (killed mid-send), instead of waiting for the stale sweep."""
    hostname = getattr(sender, "hostname", "") or ""
    try:
        settled = deliveries_orphaned(hostname, LOADED_AT)
    except Exception:  # the worker must start even if the database is not there yet
        log.exception("could not settle the sends a previous worker %s left behind", hostname)
        return
    for delivery_id in settled.requeued:
        send_delivery.delay(delivery_id)
