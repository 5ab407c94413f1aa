"""Debounced condition alerts: a condition's `alert_hold_seconds` makes its alerts follow only changes
that last.

Each member keeps `state_at` (exchange time of its last transition) and `alerted` (the membership the
trader was last told). `alerts_release()` alerts every member whose membership has differed from `alerted`
for at least the hold, with the event that made the change (its price and time), and records it as told.
A stock that enters and leaves within the hold is never alerted; one flapping all hour is alerted only
when it settles. Events are recorded at once either way: the hold delays alerts, not the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from apps.broker.backends import exchange_now
from apps.conditions.models import Condition, ConditionEvent, ConditionMember, EventKind
from apps.conditions.services.apply import event_alert
from apps.notifications.services import notify_condition_events

# Membership differs from what was last told (null `alerted`: never told, so only "in" is news).
_UNTOLD = (Q(is_member=True) & ~Q(alerted=True)) | Q(is_member=False, alerted=True)


def alerts_release(condition_id: int | None = None, now: datetime | None = None) -> int:
    """Alert the changes that have lasted their condition's hold by exchange time `now`; returns how
    many members were settled (alerted, or told silently when that direction is not alerted)."""
    pending = ConditionMember.objects.filter(_UNTOLD, condition__active=True)
    if condition_id is not None:
        pending = pending.filter(condition_id=condition_id)
    ids = sorted(set(pending.values_list("condition_id", flat=True)))
    if not ids:
        return 0
    now = now or exchange_now()  # the simulator's clock may take a request: only when needed
    return sum(_release_one(cid, now) for cid in ids)


def _release_one(condition_id: int, now: datetime) -> int:
    with transaction.atomic():
        cond = Condition.objects.select_for_update().get(pk=condition_id)
        cutoff = now - timedelta(seconds=cond.alert_hold_seconds)
        due = list(
            ConditionMember.objects.filter(_UNTOLD, condition=cond).filter(
                Q(state_at__lte=cutoff) | Q(state_at__isnull=True)
            )
        )
        alerts = []
        for m in due:
            m.alerted = m.is_member
            kind = EventKind.ENTRY if m.is_member else EventKind.EXIT
            last = (
                ConditionEvent.objects.filter(condition=cond, code=m.code, kind=kind)
                .order_by("-at", "-id")
                .first()
            )
            alert = event_alert(cond, last) if last is not None else None
            if alert is not None:
                alerts.append(alert)
        ConditionMember.objects.bulk_update(due, ["alerted"])
        if alerts:
            notify_condition_events(alerts)
    return len(due)
