"""Per-user channel settings: create, update (secrets are write-only), delete, and a test message."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.notifications.models import Delivery, Notification, NotificationChannel, NotificationKind
from apps.notifications.services.planning import _enqueue_after_commit

TEST_TITLE = "테스트 메시지"
TEST_BODY = "StockAgent 알림 채널 테스트입니다. 이 메시지가 보이면 설정이 올바릅니다."

EDITABLE_FIELDS = (
    "kind",
    "name",
    "target",
    "secret",
    "enabled",
    "event_kinds",
    "quiet_start",
    "quiet_end",
    "min_interval_seconds",
)


def channel_save(channel: NotificationChannel) -> NotificationChannel:
    """Validate (raises ``django.core.exceptions.ValidationError``, nothing saved) and save."""
    channel.full_clean()
    with transaction.atomic():
        channel.save()
    return channel


def channel_create(user: AbstractBaseUser, **fields: Any) -> NotificationChannel:
    channel = NotificationChannel(user=user)
    return channel_update(channel, **fields)


def channel_update(channel: NotificationChannel, **fields: Any) -> NotificationChannel:
    """Apply ``fields``; an empty or missing ``secret`` keeps the stored one (secrets are write-only)."""
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"not editable: {name}")
        if name == "secret" and not value:
            continue
        setattr(channel, name, value)
    return channel_save(channel)


def channel_delete(channel: NotificationChannel) -> None:
    channel.delete()


def channel_send_test(channel: NotificationChannel) -> Delivery:
    """A test message to this one channel, now: no quiet hours, throttle or subscription filter."""
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.create(
            kind=NotificationKind.SYSTEM,
            title=TEST_TITLE,
            body=TEST_BODY,
            data={"test": True},
            created_at=now,
        )
        delivery = Delivery.objects.create(
            channel=channel, notification=notification, send_after=now, created_at=now
        )
        _enqueue_after_commit(delivery.pk, now)
    return delivery
