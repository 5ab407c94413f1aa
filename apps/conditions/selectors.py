"""Reads of the conditions app."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from apps.conditions.models import Condition, ConditionEvent, ConditionMember, ConditionRun


def conditions_list(*, listed_only: bool = False) -> QuerySet[Condition]:
    qs = Condition.objects.all().order_by("account", "seq")
    return qs.filter(listed=True) if listed_only else qs


def members_of(condition: Condition | int) -> QuerySet[ConditionMember]:
    return ConditionMember.objects.filter(condition=condition, is_member=True).order_by("code")


def last_run(condition: Condition | int) -> ConditionRun | None:
    return ConditionRun.objects.filter(condition=condition).order_by("-started_at").first()


def events_of(
    condition: Condition | int | None = None,
    *,
    code: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[ConditionEvent]:
    """Newest first; `since` inclusive, `until` exclusive."""
    qs = ConditionEvent.objects.select_related("condition").order_by("-at", "-id")
    if condition is not None:
        qs = qs.filter(condition=condition)
    if code:
        qs = qs.filter(code=code)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    return qs
