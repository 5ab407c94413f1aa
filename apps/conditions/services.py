"""Writes of the conditions app: list sync, snapshot diffs, realtime entries/exits, the 30-second cycle.

Both paths end in the same membership transition under a row lock on the condition:

- `snapshot_apply()` — a full member list (the poll, "search now", a realtime subscription's initial
  list) diffed against the current membership;
- `realtime_apply()` — individual 02 I/D changes.

A code enters once: a transition is recorded only when `ConditionMember.is_member` actually flips, so the
realtime frame and the next poll reporting the same entry make one `ConditionEvent`. A poll's list was
taken when its request went out (`observed_at`); a code that realtime changed after that moment is left
alone by the poll (its newer state wins).

The first successful snapshot of a condition (or the first after it is switched back on) is its
*baseline*: members are recorded, no events or alerts are made — they did not "enter" just now.

Broker calls never happen inside a transaction: searches run first, then the result is applied.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.broker.clock import exchange_now
from apps.broker.contract import Broker, BrokerError, ConditionHit
from apps.broker.contract import Condition as BrokerCondition
from apps.conditions.events import ConditionChange, send_changes
from apps.conditions.models import (
    Condition,
    ConditionEvent,
    ConditionMember,
    ConditionRun,
    EventKind,
    Source,
)
from apps.core.live import publish_after_commit
from apps.market import calendar
from apps.notifications.services import ConditionAlert, notify_condition_events

log = logging.getLogger(__name__)

LIVE_EVENT = "conditions.update"
# KRX short codes: six characters, a digit first (since 2024 new listings may carry letters: 0001A0).
CODE_RE = re.compile(r"^[0-9][0-9A-Z]{5}$")


class ConditionError(ValueError):
    """A change to a condition that cannot be made (e.g. too many realtime conditions)."""


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


@dataclass
class ApplyResult:
    condition_id: int
    run_id: int | None = None
    member_count: int = 0
    entries: list[int] = field(default_factory=list)  # ConditionEvent ids
    exits: list[int] = field(default_factory=list)
    baseline: bool = False
    error: str = ""


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    relisted: list[str] = field(default_factory=list)


@dataclass
class CycleResult:
    skipped: str = ""
    checked: int = 0
    failed: int = 0
    entries: int = 0
    exits: int = 0
    results: list[ApplyResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "checked": self.checked,
            "failed": self.failed,
            "entries": self.entries,
            "exits": self.exits,
        }


def _valid_code(code: str, condition_id: int) -> bool:
    """A code the broker sent that is not a KRX code is logged and skipped, so one odd row cannot
    fail the whole condition's check."""
    if CODE_RE.match(code):
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


def default_account() -> str:
    return str(getattr(settings, "KIWOOM_ACCOUNT", "") or "")


# --- list sync ------------------------------------------------------------------------------------------
def conditions_sync(listed: Iterable[BrokerCondition], account: str | None = None) -> SyncResult:
    """Make the table match CNSRLST: new conditions are created (inactive: the trader chooses what to
    watch), renamed ones renamed, missing ones marked unlisted (kept with their history, never checked)."""
    account = default_account() if account is None else account
    result = SyncResult()
    now = timezone.now()
    seen: dict[str, str] = {c.seq.strip(): c.name.strip() for c in listed}
    with transaction.atomic():
        existing = {c.seq: c for c in Condition.objects.select_for_update().filter(account=account)}
        for seq, name in seen.items():
            cond = existing.get(seq)
            if cond is None:
                Condition.objects.create(
                    account=account, seq=seq, name=name, active=False, synced_at=now
                )
                result.created.append(seq)
                continue
            fields = ["synced_at", "updated_at"]
            cond.synced_at = now
            if cond.name != name:
                cond.name = name
                fields.append("name")
                result.renamed.append(seq)
            if not cond.listed:
                cond.listed = True
                fields.append("listed")
                result.relisted.append(seq)
            cond.save(update_fields=fields)
        for seq, cond in existing.items():
            if seq not in seen and cond.listed:
                cond.listed = False
                cond.realtime = False
                cond.save(update_fields=["listed", "realtime", "updated_at"])
                result.unlisted.append(seq)
        if result.created or result.renamed or result.unlisted or result.relisted:
            publish_after_commit(LIVE_EVENT, {"reload": True})
    return result


def conditions_sync_from_broker(broker: Broker, account: str | None = None) -> SyncResult:
    return conditions_sync(broker.conditions(), account)


# --- switches -------------------------------------------------------------------------------------------
TOGGLES = ("active", "realtime", "notify_entry", "notify_exit")


def condition_update(condition: Condition, **changes: bool) -> Condition:
    """Change the trader's switches. Raises `ConditionError` (nothing saved) on a bad change."""
    unknown = set(changes) - set(TOGGLES)
    if unknown:
        raise ConditionError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for key, value in changes.items():
        if not isinstance(value, bool):
            raise ConditionError(f"{key} must be true or false")
    with transaction.atomic():
        cond = Condition.objects.select_for_update().get(pk=condition.pk)
        if changes.get("realtime") and not cond.realtime:
            if not cond.listed:
                raise ConditionError("this condition is no longer in the HTS list")
            limit = settings.CONDITIONS_MAX_REALTIME
            taken = (
                Condition.objects.filter(account=cond.account, realtime=True)
                .exclude(pk=cond.pk)
                .count()
            )
            if taken >= limit:
                raise ConditionError(
                    f"at most {limit} realtime conditions per login (Kiwoom limit)"
                )
        if changes.get("realtime"):
            # Realtime without the poll would miss what a dropped socket loses.
            changes.setdefault("active", True)
        if changes.get("active") is False:
            changes["realtime"] = False
        if "active" in changes and changes["active"] != cond.active:
            # Off: nobody tracks it any more. On again: what it holds now is a new baseline, not a
            # burst of entries and exits since it was switched off.
            cond.baseline_at = None
        for key, value in changes.items():
            setattr(cond, key, value)
        cond.save()
        publish_after_commit(LIVE_EVENT, {"condition": condition_payload(cond)})
    return cond


# --- applying results -----------------------------------------------------------------------------------
def condition_payload(cond: Condition) -> dict[str, Any]:
    return {
        "id": cond.pk,
        "seq": cond.seq,
        "name": cond.name,
        "active": cond.active,
        "realtime": cond.realtime,
        "notify_entry": cond.notify_entry,
        "notify_exit": cond.notify_exit,
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
        "source": event.source,
    }


def _instrument_names(codes: Iterable[str]) -> dict[str, str]:
    from apps.market.models import Instrument

    wanted = [c for c in codes if c]
    if not wanted:
        return {}
    return dict(Instrument.objects.filter(code__in=wanted).values_list("code", "name"))


def _after_commit(cond: Condition, events: list[ConditionEvent], members_changed: bool) -> None:
    """Alerts (rows now, sending after commit), the live push and the domain events."""
    alerts = [
        ConditionAlert(
            entered=e.kind == EventKind.ENTRY,
            condition_seq=cond.seq,
            condition_name=cond.name,
            code=e.code,
            stock_name=e.name,
            price=e.price,
            change_rate=e.change_rate,
            at=e.at,
        )
        for e in events
        if (cond.notify_entry if e.kind == EventKind.ENTRY else cond.notify_exit)
    ]
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
        names = _instrument_names(c for c, o in seen.items() if not o.name and c not in rows)
        new_rows: list[ConditionMember] = []
        touched: list[ConditionMember] = []
        events: list[ConditionEvent] = []

        def event(m: ConditionMember, kind: str, obs: Observation | None) -> None:
            events.append(
                ConditionEvent(
                    condition=cond,
                    code=m.code,
                    name=m.name,
                    kind=kind,
                    at=at,
                    recorded_at=now,
                    price=obs.price if obs else m.price,
                    change_rate=obs.change_rate if obs else m.change_rate,
                    change=obs.change if obs else m.change,
                    source=source,
                )
            )

        for code, obs in seen.items():
            m = rows.get(code)
            if m is None:
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
                )
                new_rows.append(m)
                if not baseline:
                    event(m, EventKind.ENTRY, obs)
                continue
            if not m.is_member and m.changed_at > observed_at and not baseline:
                continue  # realtime saw it leave after this list was taken
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
                if not baseline:
                    event(m, EventKind.ENTRY, obs)
            touched.append(m)
        for code, m in rows.items():
            if code in seen or not m.is_member:
                continue
            if m.changed_at > observed_at and not baseline:
                continue  # realtime saw it enter after this list was taken
            m.is_member = False
            m.changed_at = now
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
        cond.last_checked_at = now
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
        events: list[ConditionEvent] = []
        for ch in changes:
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
            m.save()
            events.append(
                ConditionEvent(
                    condition=cond,
                    code=m.code,
                    name=m.name,
                    kind=EventKind.ENTRY if ch.entered else EventKind.EXIT,
                    at=ch.at,
                    recorded_at=now,
                    price=ch.price if ch.price is not None else m.price,
                    change_rate=ch.change_rate if ch.change_rate is not None else m.change_rate,
                    change=ch.change if ch.change is not None else m.change,
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


# --- checks ---------------------------------------------------------------------------------------------
def condition_check(cond: Condition, broker: Broker, source: str = Source.POLL) -> ApplyResult:
    """Search one condition now (CNSRREQ search_type 0, paged) and apply the result."""
    started = timezone.now()
    at = exchange_now()
    try:
        hits = broker.condition_search(cond.seq)
    except BrokerError as exc:
        log.warning("condition %s (%s) check failed: %s", cond.seq, cond.name, exc)
        return run_failed(cond.pk, source=source, started_at=started, error=str(exc))
    return snapshot_apply(
        cond.pk,
        [observation_from_hit(h) for h in hits],
        source=source,
        observed_at=started,
        at=at,
        started_at=started,
        silent=not cond.active,  # a preview of an unwatched condition alerts nobody
    )


def market_is_open(now: datetime | None = None) -> bool:
    return calendar.is_market_open(now or exchange_now())


def check_cycle(broker: Broker, now: datetime | None = None) -> CycleResult:
    """One 30-second cycle: every active, listed condition, one after the other. A condition that fails
    is recorded and the cycle goes on. The caller holds the single-flight lock."""
    result = CycleResult()
    if not market_is_open(now):
        result.skipped = "market closed"
        return result
    for cond in Condition.objects.filter(active=True, listed=True).order_by("seq"):
        try:
            outcome = condition_check(cond, broker)
        except Exception as exc:  # one condition must never stop the others
            log.exception("condition %s check crashed", cond.seq)
            outcome = run_failed(
                cond.pk,
                source=Source.POLL,
                started_at=timezone.now(),
                error=f"{type(exc).__name__}: {exc}",
            )
        result.results.append(outcome)
        result.checked += 1
        if outcome.error:
            result.failed += 1
        result.entries += len(outcome.entries)
        result.exits += len(outcome.exits)
    return result


def runs_prune(older_than_days: int | None = None) -> int:
    """Delete check records (snapshots) older than the retention; events are kept."""
    days = (
        older_than_days if older_than_days is not None else settings.CONDITIONS_RUN_RETENTION_DAYS
    )
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = ConditionRun.objects.filter(started_at__lt=cutoff).delete()
    return deleted
