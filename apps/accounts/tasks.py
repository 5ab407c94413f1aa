"""Celery tasks of the accounts app (thin): the scheduled and the after-fill balance sync, and one at a
worker's start (the pre-open snapshot the risk engine's opening equity needs)."""

from __future__ import annotations

import logging

import redis
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from apps.accounts import services
from apps.accounts.models import SnapshotSource
from apps.broker.backends import exchange_clock
from apps.broker.contract import BrokerError
from apps.core.rediskeys import redis_key

log = logging.getLogger(__name__)

LOCK_KEY = redis_key("stockagent", "accounts", "balance-sync")


# A worker's start-up sync tries again every 2 s while the broker (the simulator starting beside it) is
# not there yet: a minute.
STARTUP_RETRIES = 30
RETRY_SECONDS = 2.0


def _again(source: str, retries_left: int) -> None:
    sync_balance.apply_async(
        kwargs={"source": source, "retries_left": retries_left - 1}, countdown=RETRY_SECONDS
    )


@shared_task(name="accounts.sync_balance", ignore_result=True, time_limit=120, soft_time_limit=100)
def sync_balance(source: str = SnapshotSource.SCHEDULE, retries_left: int = 0) -> dict:
    """Scheduled (beat, every minute: only in the session, and once before the open) or queued after
    fills (always). `retries_left`: a start-up sync queues itself again while the exchange's clock or
    the broker does not answer."""
    if source == SnapshotSource.SCHEDULE:
        if retries_left > 0 and exchange_clock().known_reading() is None:
            _again(source, retries_left)  # never decide "closed" on the wall's time
            return {"skipped": "exchange clock unavailable"}
        if not services.balance_sync_due():
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
        if retries_left > 0:
            _again(source, retries_left)
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


@worker_ready.connect
def _sync_at_start(sender: object = None, **kwargs: object) -> None:
    """A starting worker syncs the balance when one is due (in the session, or before the open of a
    trading day without a snapshot yet). The beat entry ticks every wall minute: with an accelerated
    simulator the whole pre-open can pass between two ticks (30 wall seconds at speed 60), and the
    open's entries were refused (`equity_unknown`) until the first sync in the session — whether a
    replayed day's first entry was made depended on where the beat's minute fell. Off with
    the setting `ACCOUNTS_SYNC_AT_START = False` (settings_test: the tests' workers)."""
    if not getattr(settings, "ACCOUNTS_SYNC_AT_START", True):
        return
    sync_balance.apply_async(
        kwargs={"source": SnapshotSource.SCHEDULE, "retries_left": STARTUP_RETRIES}
    )
