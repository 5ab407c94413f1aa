"""Reads of the notifications app: a user's own channels and delivery log (never anyone else's)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from apps.notifications.models import Delivery, NotificationChannel


def channels_for_user(user: AbstractBaseUser) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(user=user).order_by("pk")


def deliveries_for_user(
    user: AbstractBaseUser, *, status: str | None = None, kind: str | None = None
) -> QuerySet[Delivery]:
    """The user's delivery log, newest first. ``kind`` is a notification kind, or ``digest``."""
    qs = Delivery.objects.filter(channel__user=user).select_related("channel", "notification")
    if status:
        qs = qs.filter(status=status)
    if kind == "digest":
        qs = qs.filter(is_digest=True)
    elif kind:
        qs = qs.filter(notification__kind=kind)
    return qs.order_by("-created_at", "-pk")
