"""Planning: ``notify()`` records a notification and plans one delivery per interested channel.

Rules, per channel, applied when a delivery is planned:

- dedup: the same ``dedup_key`` within ``NOTIFY_DEDUP_WINDOW_SECONDS`` makes one notification, not two;
- quiet hours (KST, per channel): deliveries are *held*, not dropped — they join the channel's digest, which is
  sent when the quiet hours end, so the trader reads everything they missed in one message;
- throttling: once a channel has had ``NOTIFY_THROTTLE_MAX`` messages within ``NOTIFY_THROTTLE_WINDOW_SECONDS``
  (or its own ``min_interval_seconds`` has not passed since its last message), further deliveries join one
  digest sent ``NOTIFY_DIGEST_DELAY_SECONDS`` later (or when the min interval is over). Everything that
  arrives before the digest is claimed goes into that same digest: a burst becomes one message.

The underscored helpers are shared with the sibling modules (condition alerts, channel test sends); other
apps call ``notify()``/``anotify()`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.notifications.models import (
    DedupMark,
    Delivery,
    DeliveryStatus,
    HoldReason,
    Notification,
    NotificationChannel,
    NotificationKind,
)

logger = logging.getLogger(__name__)


class NotifyError(ValueError):
    """A notify() call that cannot be made (unknown kind, empty title)."""


def notify(
    kind: str,
    *,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
    users: Iterable[AbstractBaseUser | int] | None = None,
) -> Notification | None:
    """Record a notification and one delivery per interested channel; sending starts after commit.

    ``users`` limits the recipients (default: every user with a channel subscribed to ``kind``). Returns
    ``None`` when ``dedup_key`` was already used within the dedup window (nothing is written then).
    """
    _check(kind, title)
    now = timezone.now()
    with transaction.atomic():
        if dedup_key and _is_duplicate(dedup_key, now):
            logger.debug("notification %s suppressed as duplicate", kind)
            return None
        notification = _record(kind, title, body, data, dedup_key, now)
        for channel in _recipient_channels((kind,), users):
            _plan_delivery(channel, notification, now)
    return notification


async def anotify(kind: str, **kwargs: Any) -> Notification | None:
    """``notify()`` for async code (the realtime process): the same transaction, run in Django's sync thread."""
    return await sync_to_async(notify, thread_sensitive=True)(kind, **kwargs)


def _check(kind: str, title: str) -> None:
    if kind not in NotificationKind.values:
        raise NotifyError(f"unknown notification kind: {kind}")
    if not title.strip():
        raise NotifyError("notification title is empty")


def _record(
    kind: str,
    title: str,
    body: str,
    data: dict[str, Any] | None,
    dedup_key: str | None,
    now: datetime,
) -> Notification:
    return Notification.objects.create(
        kind=kind,
        title=title[:200],
        body=body,
        data=data or {},
        dedup_key=(dedup_key or "")[:200],
        created_at=now,
    )


def _is_duplicate(key: str, now: datetime) -> bool:
    key = key[:200]
    mark, created = DedupMark.objects.get_or_create(key=key, defaults={"last_at": now})
    if created:
        return False
    mark = DedupMark.objects.select_for_update().get(pk=mark.pk)
    if now - mark.last_at < timedelta(seconds=settings.NOTIFY_DEDUP_WINDOW_SECONDS):
        return True
    mark.last_at = now
    mark.save(update_fields=["last_at"])
    return False


def _recipient_channels(
    kinds: Collection[str], users: Iterable[AbstractBaseUser | int] | None
) -> list[NotificationChannel]:
    """Enabled channels (of ``users``, default all active users) subscribed to any of ``kinds``, locked."""
    qs = NotificationChannel.objects.filter(enabled=True, user__is_active=True)
    if users is not None:
        ids = [u if isinstance(u, int) else u.pk for u in users]
        qs = qs.filter(user_id__in=ids)
    # Locked in id order: concurrent notify() calls plan each channel one at a time, without deadlocks.
    return [
        c
        for c in qs.select_for_update(of=("self",)).order_by("pk")
        if any(c.wants(k) for k in kinds)
    ]


def _plan_delivery(
    channel: NotificationChannel, notification: Notification, now: datetime
) -> Delivery:
    open_digest = (
        Delivery.objects.filter(channel=channel, is_digest=True, status=DeliveryStatus.PENDING)
        .order_by("pk")
        .first()
    )
    if channel.in_quiet_hours(now):
        release = channel.quiet_end_after(now)
        return _batch(channel, notification, now, open_digest, release, HoldReason.QUIET)
    if open_digest is not None:
        return _batch(
            channel, notification, now, open_digest, open_digest.send_after, HoldReason.THROTTLE
        )
    throttled_until = _throttled_until(channel, now)
    if throttled_until is not None:
        return _batch(channel, notification, now, None, throttled_until, HoldReason.THROTTLE)
    delivery = Delivery.objects.create(
        channel=channel, notification=notification, send_after=now, created_at=now
    )
    _enqueue_after_commit(delivery.pk, now)
    return delivery


def _throttled_until(channel: NotificationChannel, now: datetime) -> datetime | None:
    """When a digest may go out if the channel is over its message budget now; None if it is not."""
    messages = Delivery.objects.filter(channel=channel, digest__isnull=True)
    window_start = now - timedelta(seconds=settings.NOTIFY_THROTTLE_WINDOW_SECONDS)
    if messages.filter(created_at__gte=window_start).count() >= settings.NOTIFY_THROTTLE_MAX:
        return now + timedelta(seconds=settings.NOTIFY_DIGEST_DELAY_SECONDS)
    if channel.min_interval_seconds:
        interval = timedelta(seconds=channel.min_interval_seconds)
        last = messages.filter(created_at__gt=now - interval).order_by("-created_at").first()
        if last is not None:
            return last.created_at + interval
    return None


def _batch(
    channel: NotificationChannel,
    notification: Notification,
    now: datetime,
    digest: Delivery | None,
    release: datetime,
    reason: str,
) -> Delivery:
    if digest is None:
        digest = Delivery.objects.create(
            channel=channel, is_digest=True, hold_reason=reason, send_after=release, created_at=now
        )
        _enqueue_after_commit(digest.pk, release)
    elif release > digest.send_after or (
        reason == HoldReason.QUIET and digest.hold_reason != reason
    ):
        digest.send_after = max(release, digest.send_after)
        digest.hold_reason = reason
        digest.save(update_fields=["send_after", "hold_reason", "updated_at"])
        _enqueue_after_commit(digest.pk, digest.send_after)
    return Delivery.objects.create(
        channel=channel,
        notification=notification,
        digest=digest,
        status=DeliveryStatus.BATCHED,
        hold_reason=reason,
        send_after=digest.send_after,
        created_at=now,
    )


def _enqueue_after_commit(delivery_id: int, eta: datetime) -> None:
    """Queue the send once the rows are committed. Long holds (quiet hours) are left to the sweep: a
    broker holding an ETA task for hours would redeliver it."""
    from apps.notifications.tasks import send_delivery

    delay = (eta - timezone.now()).total_seconds()
    if delay > settings.NOTIFY_MAX_ETA_SECONDS:
        return

    def enqueue() -> None:
        if delay > 0:
            send_delivery.apply_async((delivery_id,), countdown=delay)
        else:
            send_delivery.delay(delivery_id)

    transaction.on_commit(enqueue)
