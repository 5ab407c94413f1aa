"""Reads of the notifications app: a user's own channels and delivery log (never anyone else's)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.notifications.models import Delivery, NotificationChannel


def channels_for_user(user: AbstractBaseUser) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(user=user).order_by("pk")


def deliveries_for_user(
    user: AbstractBaseUser, *, status: str | None = None, kind: str | None = None
) -> QuerySet[Delivery]:
    """The user's delivery log, newest first. ``kind`` is a notification kind, or ``digest``."""
    members = (
        Delivery.objects.filter(digest=OuterRef("pk"))
        .order_by()
        .values("digest")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = (
        Delivery.objects.filter(channel__user=user)
        .select_related("channel", "notification")
        # A digest's size in the same query (one indexed count per row of the page), not one query per row.
        .annotate(member_count=Coalesce(Subquery(members), 0))
    )
    if status:
        qs = qs.filter(status=status)
    if kind == "digest":
        qs = qs.filter(is_digest=True)
    elif kind:
        qs = qs.filter(notification__kind=kind)
    return qs.order_by("-created_at", "-pk")
