"""Checks: one condition searched now (CNSRREQ) and applied, the 30-second cycle over every watched
condition, and pruning of old check records. Broker calls never happen inside a transaction: the search
runs first, then its result is applied."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.broker.backends import exchange_now
from apps.broker.contract import Broker, BrokerError
from apps.conditions.models import Condition, ConditionRun, Source
from apps.conditions.services.alerts import alerts_release
from apps.conditions.services.apply import (
    ApplyResult,
    observation_from_hit,
    run_failed,
    snapshot_apply,
)

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    skipped: str = ""
    checked: int = 0
    failed: int = 0
    entries: int = 0
    exits: int = 0
    results: list[ApplyResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "checked": self.checked,
            "failed": self.failed,
            "entries": self.entries,
            "exits": self.exits,
        }


def condition_check(cond: Condition, broker: Broker, source: str = Source.POLL) -> ApplyResult:
    """Search one condition now (CNSRREQ search_type 0, paged) and apply the result."""
    started = timezone.now()
    at = exchange_now()
    try:
        hits = broker.condition_search(cond.seq)
    except BrokerError as exc:
        log.warning("condition %s (%s) check failed: %s", cond.seq, cond.name, exc)
        return run_failed(cond.pk, source=source, started_at=started, error=str(exc))
    return snapshot_apply(
        cond.pk,
        [observation_from_hit(h) for h in hits],
        source=source,
        observed_at=started,
        at=at,
        started_at=started,
        silent=not cond.active,  # a preview of an unwatched condition alerts nobody
    )


def market_is_open(now: datetime | None = None) -> bool:
    from krx import calendar  # pandas + exchange-calendars: loaded when first needed

    return calendar.is_market_open(now or exchange_now())


def check_cycle(broker: Broker, now: datetime | None = None) -> CycleResult:
    """One 30-second cycle: every active, listed condition, one after the other. A condition that fails
    is recorded and the cycle goes on. The caller holds the single-flight lock."""
    result = CycleResult()
    if not market_is_open(now):
        result.skipped = "market closed"
        return result
    for cond in Condition.objects.filter(active=True, listed=True).order_by("seq"):
        try:
            outcome = condition_check(cond, broker)
        except Exception as exc:  # one condition must never stop the others
            log.exception("condition %s check crashed", cond.seq)
            outcome = run_failed(
                cond.pk,
                source=Source.POLL,
                started_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}",
            )
        result.results.append(outcome)
        result.checked += 1
        if outcome.error:
            result.failed += 1
        result.entries += len(outcome.entries)
        result.exits += len(outcome.exits)
    try:
        # Held alerts whose hold is over (the release task queued after each change does the same
        # sooner; this catches one whose task was lost).
        alerts_release()
    except Exception:
        log.exception("releasing held condition alerts failed")
    return result


def runs_prune(older_than_days: int | None = None) -> int:
    """Delete check records (snapshots) older than the retention; events are kept."""
    days = (
        older_than_days if older_than_days is not None else settings.CONDITIONS_RUN_RETENTION_DAYS
    )
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = ConditionRun.objects.filter(started_at__lt=cutoff).delete()
    return deleted
