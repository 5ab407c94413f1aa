"""What the conditions app pushes to the live dashboard (`/ws/live`): the event name and the JSON shapes of
a condition and of an entry/exit event."""

from __future__ import annotations

from typing import Any

from apps.conditions.models import Condition, ConditionEvent

LIVE_EVENT = "conditions.update"


def condition_payload(cond: Condition) -> dict[str, Any]:
    return {
        "id": cond.pk,
        "seq": cond.seq,
        "name": cond.name,
        "active": cond.active,
        "realtime": cond.realtime,
        "notify_entry": cond.notify_entry,
        "notify_exit": cond.notify_exit,
        "alert_hold_seconds": cond.alert_hold_seconds,
        "listed": cond.listed,
        "member_count": cond.member_count,
        "last_checked_at": cond.last_checked_at,
        "last_error": cond.last_error,
    }


def event_payload(event: ConditionEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "condition": event.condition_id,
        "code": event.code,
        "name": event.name,
        "kind": event.kind,
        "at": event.at,
        "price": event.price,
        "change": event.change,
        "change_rate": event.change_rate,
        "price_source": event.price_source,
        "source": event.source,
    }
