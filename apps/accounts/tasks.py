"""Celery tasks of the accounts app (thin): the scheduled and the after-fill balance sync."""

from __future__ import annotations

import logging

import redis
from celery import shared_task
from django.conf import settings

from apps.accounts import services
from apps.accounts.models import SnapshotSource
from apps.broker.contract import BrokerError
from apps.core.rediskeys import redis_key

log = logging.getLogger(__name__)

LOCK_KEY = redis_key("stockagent", "accounts", "balance-sync")


@shared_task(name="accounts.sync_balance", ignore_result=True, time_limit=120, soft_time_limit=100)
def sync_balance(source: str = SnapshotSource.SCHEDULE) -> dict:
    """Scheduled (beat, every minute: only in the session) or queued after fills (always)."""
    if source == SnapshotSource.SCHEDULE and not services.balance_sync_due():
        return {"skipped": "market closed"}
    client = redis.Redis.from_url(settings.REDIS_URL)
    # Fills arriving from now on need a fresh sync: let them queue one.
    client.delete(services.SYNC_PENDING_KEY)
    lock = client.lock(LOCK_KEY, timeout=110, blocking=False, thread_local=False)
    if not lock.acquire(blocking=False):
        client.close()
        if source == SnapshotSource.FILL:
            # The running sync may have read the balance before this fill: look again shortly.
            sync_balance.apply_async(kwargs={"source": source}, countdown=2)
        return {"skipped": "a sync is running"}
    try:
        snapshot = services.balance_sync(source=source)
    except BrokerError as exc:
        log.warning("balance sync failed: %s", type(exc).__name__)
        return {"error": type(exc).__name__}
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("balance sync outlived its lock")
        client.close()
    if snapshot is None:
        return {"skipped": "no broker account"}
    return {"snapshot": snapshot.pk}
