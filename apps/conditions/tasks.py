"""Celery tasks of the conditions app (thin: lock, clock, call services)."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import shared_task
from django.conf import settings

from apps.broker.backends import get_broker
from apps.conditions import services
from apps.core.rediskeys import redis_key

log = logging.getLogger(__name__)

LOCK_KEY = redis_key("stockagent", "conditions", "check")


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="conditions.check", ignore_result=True, time_limit=300, soft_time_limit=280)
def check_conditions() -> dict[str, Any]:
    """The 30-second check (scheduled by beat). Runs only while KRX's regular market is open (by the
    exchange's clock) and never overlaps itself: a cycle still running makes the next one skip."""
    if not services.market_is_open():
        return {"skipped": "market closed"}
    lock = _redis().lock(
        LOCK_KEY, timeout=settings.CONDITIONS_CHECK_LOCK_SECONDS, blocking=False, thread_local=False
    )
    if not lock.acquire(blocking=False):
        log.info("condition check skipped: the previous cycle is still running")
        return {"skipped": "previous cycle still running"}
    try:
        result = services.check_cycle(get_broker())
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning(
                "condition check outlived its lock (%ss)", settings.CONDITIONS_CHECK_LOCK_SECONDS
            )
    if result.checked:
        log.info(
            "condition check: %d checked, %d failed, %d entries, %d exits",
            result.checked,
            result.failed,
            result.entries,
            result.exits,
        )
    return result.as_dict()


@shared_task(name="conditions.prune_runs", ignore_result=True, time_limit=600)
def prune_runs() -> int:
    return services.runs_prune()


@shared_task(name="conditions.release_alerts", ignore_result=True, time_limit=60)
def release_alerts(condition_id: int) -> int:
    """Queued after a change of a condition with a hold time, for when the hold is over."""
    return services.alerts_release(condition_id)
