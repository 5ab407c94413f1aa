"""Reads of the conditions app."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
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


FLAP_MIN_EVENTS = 4  # two round trips of one stock on one page of the feed: shown as one row


@dataclass
class FeedRow:
    """One row of the entry/exit feed: a single event, or a stock flapping in and out (`events`, newest
    first) collapsed into one row at the place of its newest event."""

    event: ConditionEvent
    events: list[ConditionEvent] = field(default_factory=list)

    @property
    def flapping(self) -> bool:
        return len(self.events) > 1

    @property
    def entries(self) -> int:
        return sum(1 for e in self.events if e.kind == "entry")

    @property
    def exits(self) -> int:
        return len(self.events) - self.entries

    @property
    def first_at(self) -> datetime:
        return self.events[-1].at


def feed_rows(events: Sequence[ConditionEvent], *, collapse: bool = True) -> list[FeedRow]:
    """Events (newest first) as feed rows; with `collapse`, a code with `FLAP_MIN_EVENTS` or more events
    among them becomes one row."""
    counts = Counter(e.code for e in events) if collapse else Counter()
    rows: list[FeedRow] = []
    groups: dict[str, FeedRow] = {}
    for e in events:
        if counts[e.code] < FLAP_MIN_EVENTS:
            rows.append(FeedRow(e, [e]))
            continue
        group = groups.get(e.code)
        if group is None:
            group = groups[e.code] = FeedRow(e, [])
            rows.append(group)
        group.events.append(e)
    return rows
