"""Writes of the notifications app: ``notify()`` (the one entry point other apps call), sending one delivery,
the sweep of due deliveries, and the per-user channel settings.

Kinds other apps raise (``NotificationKind``): ``condition.entry``, ``condition.exit``, ``order.fill``,
``risk.halt``, ``report.daily``, ``system``.

Modules: ``planning`` (``notify()``: dedup, quiet hours, throttling and digests), ``condition_alerts``
(batches of condition entries/exits → one message per channel), ``sending`` (claim, send, retry, sweep),
``channels`` (per-user channel settings and test sends). Callers import from
``apps.notifications.services``; the names below are its public surface.

Sending happens after commit, one Celery task per delivery.
"""

from apps.notifications.alerts import ConditionAlert
from apps.notifications.services.channels import (
    EDITABLE_FIELDS,
    TEST_BODY,
    TEST_TITLE,
    channel_create,
    channel_delete,
    channel_save,
    channel_send_test,
    channel_update,
)
from apps.notifications.services.condition_alerts import (
    anotify_condition_events,
    notify_condition_event,
    notify_condition_events,
)
from apps.notifications.services.planning import NotifyError, anotify, notify
from apps.notifications.services.sending import (
    RESENDABLE,
    SendOutcome,
    deliveries_interrupted,
    deliveries_orphaned,
    delivery_claim,
    delivery_key,
    delivery_message,
    delivery_reclaim_stale,
    delivery_send,
    due_delivery_ids,
    retry_delay,
)

__all__ = [
    "EDITABLE_FIELDS",
    "RESENDABLE",
    "TEST_BODY",
    "TEST_TITLE",
    "ConditionAlert",
    "NotifyError",
    "SendOutcome",
    "anotify",
    "anotify_condition_events",
    "channel_create",
    "channel_delete",
    "channel_save",
    "channel_send_test",
    "channel_update",
    "deliveries_interrupted",
    "deliveries_orphaned",
    "delivery_claim",
    "delivery_key",
    "delivery_message",
    "delivery_reclaim_stale",
    "delivery_send",
    "due_delivery_ids",
    "notify",
    "notify_condition_event",
    "notify_condition_events",
    "retry_delay",
]
