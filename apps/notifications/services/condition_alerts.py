"""Condition alerts: entries/exits reported together become at most one message per channel, each alert
deduplicated on its own key."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.notifications.alerts import ConditionAlert
from apps.notifications.formatting import format_condition_alert, format_condition_batch
from apps.notifications.models import Notification, NotificationKind
from apps.notifications.services.planning import (
    _is_duplicate,
    _plan_delivery,
    _recipient_channels,
    _record,
)

logger = logging.getLogger(__name__)


def notify_condition_events(
    alerts: Sequence[ConditionAlert],
    *,
    users: Iterable[AbstractBaseUser | int] | None = None,
) -> Notification | None:
    """Alerts reported together (one poll cycle of a condition, one coalesced realtime burst) → at most one
    message per channel.

    Each alert is deduplicated on its own key (``ConditionAlert.dedup_key``: condition, direction, code, KST
    minute) within ``NOTIFY_DEDUP_WINDOW_SECONDS``; the keys are checked and marked in one transaction (in
    key order, so concurrent batches never deadlock). What is left: none → ``None``; one → the same
    notification ``notify_condition_event`` makes; two or more → one ``condition.entry`` notification
    (``condition.exit`` if every alert is an exit) titled ``[조건검색] 급등주 편입 48종목 · 이탈 2종목``,
    one body line per stock (capped at ``NOTIFY_DIGEST_MAX_LINES``, then ``… 외 N종목``), and
    ``data["alerts"]`` listing every alert. It is then planned per channel like any ``notify()``
    (throttle, min interval and quiet hours apply across batches).

    A mixed batch goes in full to channels subscribed to both kinds; a channel subscribed to only one of
    them gets its own notification with just those alerts (still one message).
    """
    return _notify_condition_alerts([(a, a.dedup_key) for a in alerts], users)


async def anotify_condition_events(
    alerts: Sequence[ConditionAlert],
    *,
    users: Iterable[AbstractBaseUser | int] | None = None,
) -> Notification | None:
    """``notify_condition_events()`` for async code (the realtime process)."""
    return await sync_to_async(notify_condition_events, thread_sensitive=True)(alerts, users=users)


def notify_condition_event(
    *,
    entered: bool,
    condition_seq: str,
    condition_name: str,
    stock_name: str,
    code: str,
    price: int | None,
    change_rate: Decimal | None,
    at: datetime,
    users: Iterable[AbstractBaseUser | int] | None = None,
    dedup_key: str | None = None,
) -> Notification | None:
    """One ``condition.entry`` / ``condition.exit`` with the standard Korean text: a batch of one
    (``notify_condition_events``). By default the dedup key is the condition, code, direction and KST
    minute, so the realtime and poll paths reporting the same entry make one alert."""
    alert = ConditionAlert(
        entered=entered,
        condition_seq=condition_seq,
        condition_name=condition_name,
        code=code,
        stock_name=stock_name,
        price=price,
        change_rate=change_rate,
        at=at,
    )
    return _notify_condition_alerts([(alert, dedup_key or alert.dedup_key)], users)


def _notify_condition_alerts(
    keyed: Sequence[tuple[ConditionAlert, str]],
    users: Iterable[AbstractBaseUser | int] | None,
) -> Notification | None:
    if not keyed:
        return None
    now = timezone.now()
    with transaction.atomic():
        # Marks are taken in key order (no deadlock between two batches sharing keys); a key repeated
        # inside the batch finds its own fresh mark and is dropped like any duplicate.
        order = sorted(range(len(keyed)), key=lambda i: keyed[i][1][:200])
        fresh = {i for i in order if not _is_duplicate(keyed[i][1], now)}
        kept = [keyed[i] for i in range(len(keyed)) if i in fresh]
        if len(kept) < len(keyed):
            logger.debug("%s condition alert(s) suppressed as duplicates", len(keyed) - len(kept))
        if not kept:
            return None
        alerts = [a for a, _ in kept]
        kinds = list(dict.fromkeys(a.kind for a in alerts))
        main = _record_condition_alerts(kept, now)
        partial: dict[str, Notification] = {}
        for channel in _recipient_channels(kinds, users):
            wanted = [k for k in kinds if channel.wants(k)]
            if len(wanted) == len(kinds):
                _plan_delivery(channel, main, now)
                continue
            (only,) = wanted  # a mixed batch, this channel wants just one of the two kinds
            if only not in partial:
                partial[only] = _record_condition_alerts(
                    [(a, key) for a, key in kept if a.kind == only], now
                )
            _plan_delivery(channel, partial[only], now)
    return main


def _record_condition_alerts(
    kept: Sequence[tuple[ConditionAlert, str]], now: datetime
) -> Notification:
    if len(kept) == 1:
        alert, key = kept[0]
        title, body = format_condition_alert(alert)
        data: dict[str, Any] = {
            "condition_seq": alert.condition_seq,
            "condition_name": alert.condition_name,
            "code": alert.code,
            "name": alert.stock_name,
            "price": alert.price,
            "change_rate": None if alert.change_rate is None else str(alert.change_rate),
            "at": alert.at.isoformat(),
        }
        return _record(alert.kind, title, body, data, key, now)
    alerts = [a for a, _ in kept]
    title, body = format_condition_batch(alerts, settings.NOTIFY_DIGEST_MAX_LINES)
    entries = sum(1 for a in alerts if a.entered)
    kind = NotificationKind.CONDITION_ENTRY if entries else NotificationKind.CONDITION_EXIT
    data = {
        "batch": True,
        "count": len(alerts),
        "entries": entries,
        "exits": len(alerts) - entries,
        "alerts": [a.as_data() for a in alerts],
    }
    return _record(kind, title, body, data, None, now)
