"""Membership transitions: a full member list (`snapshot_apply`) or individual 02 changes
(`realtime_apply`) applied under a row lock on the condition, recording entries/exits, the check record,
alerts, the live push and the domain events.

A code enters once: a transition is recorded only when `ConditionMember.is_member` actually flips, so the
realtime frame and the next poll reporting the same entry make one `ConditionEvent`. A poll's list was
taken when its request went out (`observed_at`); a code that realtime changed after that moment is left
alone by the poll (its newer state wins).

The first successful snapshot of a condition (or the first after it is switched back on) is its
*baseline*: members are recorded, no events or alerts are made — they did not "enter" just now.

Idempotent on (condition, code, kind, exchange time): a change whose event is already recorded — the same
02 frame delivered twice, or replayed after the exchange's clock moved backwards, a poll stamped with a
time already used — changes nothing (no membership flip, no event, no alert). The database's unique
constraint backs this up; the lock on the condition row makes the check-then-insert safe.

Alerts: with `alert_hold_seconds` 0 an event is alerted when it is recorded; otherwise alerting waits
until the change has lasted the hold (`alerts.alerts_release`, scheduled after commit and swept by the
30-second cycle).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from apps.broker.contract import ConditionHit
from apps.conditions.events import ConditionChange, send_changes
from apps.conditions.models import (
    Condition,
    ConditionEvent,
    ConditionMember,
    ConditionRun,
    EventKind,
    PriceSource,
    Source,
)
from apps.conditions.services.payloads import LIVE_EVENT, condition_payload, event_payload
from apps.core.live import publish_after_commit
from apps.notifications.services import ConditionAlert, notify_condition_events
from krx.codes import is_stock_code

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Observation:
    """One member as a search reported it."""

    code: str
    name: str = ""
    price: int | None = None
    change_rate: Decimal | None = None
    volume: int | None = None
    change: int | None = None  # 전일대비, KRW


@dataclass(frozen=True, slots=True)
class RealtimeChange:
    """One 02 frame: `code` entered (or left) condition `seq` at exchange time `at`."""

    code: str
    entered: bool
    at: datetime
    name: str = ""
    price: int | None = None
    change_rate: Decimal | None = None
    change: int | None = None
    price_source: str = PriceSource.NONE  # where `price` came from: tick or quote


@dataclass
class ApplyResult:
    condition_id: int
    run_id: int | None = None
    member_count: int = 0
    entries: list[int] = field(default_factory=list)  # ConditionEvent ids
    exits: list[int] = field(default_factory=list)
    baseline: bool = False
    error: str = ""


def _valid_code(code: str, condition_id: int) -> bool:
    """A code the broker sent that is not a KRX code is logged and skipped, so one odd row cannot
    fail the whole condition's check."""
    if is_stock_code(code):
        return True
    log.warning("condition %s: skipped a member with an unexpected code %r", condition_id, code)
    return False


def observation_from_hit(hit: ConditionHit) -> Observation:
    return Observation(
        code=hit.code,
        name=hit.name,
        price=hit.price,
        change_rate=hit.change_rate,
        volume=hit.volume,
        change=hit.change,
    )


def _instrument_names(codes: Iterable[str]) -> dict[str, str]:
    from apps.market.models import Instrument

    wanted = [c for c in codes if c]
    if not wanted:
        return {}
    return dict(Instrument.objects.filter(code__in=wanted).values_list("code", "name"))


def event_alert(cond: Condition, e: ConditionEvent) -> ConditionAlert | None:
    """The alert of one event, or None when the condition does not alert that direction."""
    if not (cond.notify_entry if e.kind == EventKind.ENTRY else cond.notify_exit):
        return None
    return ConditionAlert(
        entered=e.kind == EventKind.ENTRY,
        condition_seq=cond.seq,
        condition_name=cond.name,
        code=e.code,
        stock_name=e.name,
        price=e.price,
        change_rate=e.change_rate,
        at=e.at,
    )


def _schedule_release(cond: Condition) -> None:
    """Alerts of a condition with a hold time are looked at once the hold has passed (the 30-second cycle
    sweeps them too, so a lost task delays an alert by one cycle at most)."""
    from apps.conditions.tasks import release_alerts

    delay = cond.alert_hold_seconds + 1
    pk = cond.pk
    transaction.on_commit(lambda: release_alerts.apply_async((pk,), countdown=delay))


def _after_commit(cond: Condition, events: list[ConditionEvent], members_changed: bool) -> None:
    """Alerts (rows now, sending after commit — or later, for a condition with a hold time), the live
    push and the domain events."""
    if events and cond.alert_hold_seconds:
        _schedule_release(cond)
    elif events:
        alerts = [a for a in (event_alert(cond, e) for e in events) if a is not None]
        if alerts:
            notify_condition_events(alerts)
    publish_after_commit(
        LIVE_EVENT,
        {
            "condition": condition_payload(cond),
            "events": [event_payload(e) for e in events],
            "members_changed": members_changed,
        },
    )
    changes = [
        ConditionChange(
            event_id=e.pk,
            condition_id=cond.pk,
            condition_seq=cond.seq,
            condition_name=cond.name,
            code=e.code,
            name=e.name,
            entered=e.kind == EventKind.ENTRY,
            at=e.at,
            price=e.price,
            change=e.change,
            change_rate=e.change_rate,
            source=e.source,
        )
        for e in events
    ]
    if changes:
        transaction.on_commit(lambda: send_changes(changes))


_MEMBER_FIELDS = (
    "name",
    "is_member",
    "price",
    "change",
    "change_rate",
    "volume",
    "entered_at",
    "changed_at",
    "last_seen_at",
    "state_at",
    "alerted",
)
_MEMBER_TYPES = (
    "text",
    "boolean",
    "bigint",
    "bigint",
    "numeric",
    "bigint",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "boolean",
)


def _members_save(rows: list[ConditionMember]) -> None:
    """Write changed membership rows. On PostgreSQL one UPDATE … FROM unnest(arrays): every poll rewrites
    the prices of all members, and Django's bulk_update (a CASE per column) took ~1.5 s for 500 rows."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        ConditionMember.objects.bulk_update(rows, list(_MEMBER_FIELDS), batch_size=500)
        return
    table = connection.ops.quote_name(ConditionMember._meta.db_table)
    assignments = ", ".join(f"{f} = v.{f}" for f in _MEMBER_FIELDS)
    arrays = ", ".join(f"%s::{t}[]" for t in ("bigint", *_MEMBER_TYPES))
    columns = ", ".join(("id", *_MEMBER_FIELDS))
    params = [[r.pk for r in rows]] + [[getattr(r, f) for r in rows] for f in _MEMBER_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET {assignments} "  # noqa: S608 - names are ours, values bound
            f"FROM unnest({arrays}) AS v({columns}) WHERE m.id = v.id",
            params,
        )


def snapshot_apply(
    condition_id: int,
    observations: Sequence[Observation],
    *,
    source: str,
    observed_at: datetime,
    at: datetime,
    started_at: datetime | None = None,
    silent: bool = False,
) -> ApplyResult:
    """Diff a full member list with the membership and record the entries and exits.

    `observed_at` (wall clock) is when the search request went out; `at` (exchange clock) stamps the events.
    `silent` records the list as a baseline whatever the state (a search of a condition nobody watches).
    """
    now = timezone.now()
    seen: dict[str, Observation] = {}
    for obs in observations:
        if _valid_code(obs.code, condition_id):
            seen.setdefault(obs.code, obs)
    with transaction.atomic():
        cond = Condition.objects.select_for_update().get(pk=condition_id)
        rows = {m.code: m for m in ConditionMember.objects.filter(condition=cond)}
        baseline = silent or cond.baseline_at is None
        # Alerted at once: the state is told now (a baseline is "told" silently).
        told_now = baseline or not cond.alert_hold_seconds
        names = _instrument_names(c for c, o in seen.items() if not o.name and c not in rows)
        recorded = set(
            ConditionEvent.objects.filter(condition=cond, at=at).values_list("code", "kind")
        )
        new_rows: list[ConditionMember] = []
        touched: list[ConditionMember] = []
        events: list[ConditionEvent] = []

        def event(m: ConditionMember, kind: str, obs: Observation | None) -> None:
            price = obs.price if obs else m.price
            if price is None:
                price_source = PriceSource.NONE
            else:
                price_source = PriceSource.SEARCH if obs else PriceSource.MEMBER
            events.append(
                ConditionEvent(
                    condition=cond,
                    code=m.code,
                    name=m.name,
                    kind=kind,
                    at=at,
                    recorded_at=now,
                    price=price,
                    change_rate=obs.change_rate if obs else m.change_rate,
                    change=obs.change if obs else m.change,
                    price_source=price_source,
                    source=source,
                )
            )

        def replayed(code: str, kind: str) -> bool:
            return not baseline and (code, kind) in recorded

        for code, obs in seen.items():
            m = rows.get(code)
            if m is None:
                if replayed(code, EventKind.ENTRY):
                    continue
                m = ConditionMember(
                    condition=cond,
                    code=code,
                    name=obs.name or names.get(code, ""),
                    is_member=True,
                    price=obs.price,
                    change_rate=obs.change_rate,
                    change=obs.change,
                    volume=obs.volume,
                    entered_at=at,
                    changed_at=now,
                    last_seen_at=now,
                    state_at=at,
                    alerted=True if told_now else None,
                )
                new_rows.append(m)
                if not baseline:
                    event(m, EventKind.ENTRY, obs)
                continue
            if not m.is_member and m.changed_at > observed_at and not baseline:
                continue  # realtime saw it leave after this list was taken
            if not m.is_member and replayed(code, EventKind.ENTRY):
                continue  # this entry, at this exchange time, is already recorded
            m.name = obs.name or m.name
            m.price = obs.price if obs.price is not None else m.price
            m.change_rate = obs.change_rate if obs.change_rate is not None else m.change_rate
            m.change = obs.change if obs.change is not None else m.change
            m.volume = obs.volume if obs.volume is not None else m.volume
            m.last_seen_at = now
            if not m.is_member:
                m.is_member = True
                m.entered_at = at
                m.changed_at = now
                m.state_at = at
                if told_now:
                    m.alerted = True
                if not baseline:
                    event(m, EventKind.ENTRY, obs)
            elif baseline:
                m.alerted = True
            touched.append(m)
        for code, m in rows.items():
            if code in seen or not m.is_member:
                continue
            if m.changed_at > observed_at and not baseline:
                continue  # realtime saw it enter after this list was taken
            if replayed(code, EventKind.EXIT):
                continue
            m.is_member = False
            m.changed_at = now
            m.state_at = at
            if told_now:
                m.alerted = False
            touched.append(m)
            if not baseline:
                event(m, EventKind.EXIT, None)
        ConditionMember.objects.bulk_create(new_rows)
        _members_save(touched)
        member_count = ConditionMember.objects.filter(condition=cond, is_member=True).count()
        entries = sum(1 for e in events if e.kind == EventKind.ENTRY)
        run = ConditionRun.objects.create(
            condition=cond,
            source=source,
            started_at=started_at or observed_at,
            finished_at=now,
            member_count=len(seen),
            members=sorted(seen),
            entries=entries,
            exits=len(events) - entries,
            baseline=baseline,
        )
        for e in events:
            e.run = run
        ConditionEvent.objects.bulk_create(events)
        cond.member_count = member_count
        # "Last check" is about the market: the exchange's clock, like the events it recorded (with the
        # simulator the wall clock and the exchange's differ, and the page showed both side by side).
        cond.last_checked_at = at
        cond.last_error = ""
        if baseline:
            # A silent search of an unwatched condition must not make later diffs look valid.
            cond.baseline_at = now if cond.active else None
        cond.save(update_fields=["member_count", "last_checked_at", "last_error", "baseline_at"])
        _after_commit(cond, events, members_changed=bool(events) or baseline)
    return ApplyResult(
        condition_id=cond.pk,
        run_id=run.pk,
        member_count=member_count,
        entries=[e.pk for e in events if e.kind == EventKind.ENTRY],
        exits=[e.pk for e in events if e.kind == EventKind.EXIT],
        baseline=baseline,
    )


def run_failed(condition_id: int, *, source: str, started_at: datetime, error: str) -> ApplyResult:
    """Record a failed check; the membership is left as it was."""
    now = timezone.now()
    message = error[:1000]
    with transaction.atomic():
        cond = Condition.objects.select_for_update().get(pk=condition_id)
        run = ConditionRun.objects.create(
            condition=cond, source=source, started_at=started_at, finished_at=now, error=message
        )
        cond.last_error = message
        cond.save(update_fields=["last_error"])
        publish_after_commit(LIVE_EVENT, {"condition": condition_payload(cond)})
    return ApplyResult(condition_id=condition_id, run_id=run.pk, error=message)


def realtime_apply(condition_id: int, changes: Sequence[RealtimeChange]) -> list[int]:
    """Record 02 entries/exits in order; a change that is already the known state is ignored.
    Returns the ids of the recorded events."""
    changes = [c for c in changes if _valid_code(c.code, condition_id)]
    if not changes:
        return []
    now = timezone.now()
    with transaction.atomic():
        cond = Condition.objects.select_for_update().get(pk=condition_id)
        codes = {c.code for c in changes}
        rows = {m.code: m for m in ConditionMember.objects.filter(condition=cond, code__in=codes)}
        names = _instrument_names(c.code for c in changes if not c.name and c.code not in rows)
        recorded = set(
            ConditionEvent.objects.filter(
                condition=cond, code__in=codes, at__in={c.at for c in changes}
            ).values_list("code", "kind", "at")
        )
        told_now = not cond.alert_hold_seconds
        events: list[ConditionEvent] = []
        for ch in changes:
            kind = EventKind.ENTRY if ch.entered else EventKind.EXIT
            if (ch.code, kind, ch.at) in recorded:
                continue  # the same frame again (a replayed clock): already recorded
            m = rows.get(ch.code)
            if ch.entered:
                if m is not None and m.is_member:
                    continue
                if m is None:
                    m = ConditionMember(condition=cond, code=ch.code, changed_at=now)
                    rows[ch.code] = m
                m.name = ch.name or m.name or names.get(ch.code, "")
                m.is_member = True
                m.entered_at = ch.at
            else:
                if m is None or not m.is_member:
                    continue
                m.is_member = False
            m.price = ch.price if ch.price is not None else m.price
            m.change_rate = ch.change_rate if ch.change_rate is not None else m.change_rate
            m.change = ch.change if ch.change is not None else m.change
            m.changed_at = now
            m.last_seen_at = now
            m.state_at = ch.at
            if told_now:
                m.alerted = ch.entered
            m.save()
            recorded.add((ch.code, kind, ch.at))
            if ch.price is not None:
                price_source = ch.price_source
            else:
                price_source = PriceSource.MEMBER if m.price is not None else PriceSource.NONE
            events.append(
                ConditionEvent(
                    condition=cond,
                    code=m.code,
                    name=m.name,
                    kind=kind,
                    at=ch.at,
                    recorded_at=now,
                    price=ch.price if ch.price is not None else m.price,
                    change_rate=ch.change_rate if ch.change_rate is not None else m.change_rate,
                    change=ch.change if ch.change is not None else m.change,
                    price_source=price_source,
                    source=Source.REALTIME,
                )
            )
        if not events:
            return []
        ConditionEvent.objects.bulk_create(events)
        cond.member_count = ConditionMember.objects.filter(condition=cond, is_member=True).count()
        cond.save(update_fields=["member_count"])
        _after_commit(cond, events, members_changed=True)
    return [e.pk for e in events]
