"""The accounting of a chaos run (``stackcheck --chaos``): the simulator's condition entries/exits against the
``ConditionEvent`` rows the stack recorded, and those against the notification ``Delivery`` rows.

What is compared, and why (each (condition, stock) pair separately, in exchange time):

- **The truth** is the simulator's own list of the day's changes (``GET /_sim/conditions``: every entry I and
  exit D its 10-second condition evaluation produced, rebuilt by a restart's replay of the day).
- **No duplicate**: a pair's recorded events alternate entry, exit, entry … (an entry recorded twice — by
  the realtime feed and again by a poll, or replayed after a simulator restart moved its clock back — would
  show as two entries in a row), and (condition, code, kind, exchange time) is unique.
- **Every recorded event is true** (none invented): an event from a 02 frame is a simulator change of the
  same kind at exactly its exchange time; an event from a search's list — the 30-second check's, a manual
  check's, the realtime subscription's initial list or its catch-up search after a reconnect — is a change
  of the same kind the search could have seen: made at most ``slack`` after the event's time (the request is
  stamped just before it goes out, by a clock read every few seconds) and not undone more than ``slack``
  before it.
- **None lost**: every simulator change is matched by one recorded event, except changes nobody could see:
  an entry and its exit (or an exit and its re-entry) that both fell where the stack was blind — a realtime
  condition while its feed was down (the realtime process or the simulator killed, until health was green
  again, plus ``margin``: the reconnect's catch-up search), a condition watched by the 30-second check alone
  between two checks (a poll sees memberships, not flaps), and anything before the comparison starts (the
  silent baseline adopts what is already in). Such changes go in pairs: a lone skipped change would leave
  the recorded membership different from the simulator's, which is a loss. After the run the clock is
  frozen and every condition searched once more, so the final memberships must agree exactly.
- **Notifications**: each recorded event whose direction the condition alerts on is one alert item (in a
  single or a batch ``Notification``), except an event whose alert key (condition, direction, code, KST
  minute) was already alerted (``ConditionAlert.dedup_key``: counted as ``alerts_same_minute``); no alert
  item without its event, none twice. Each alerting notification has exactly one ``Delivery`` per channel
  that wants it, finally ``sent`` (or ``digested`` into a sent digest): none pending, failed or ``unknown``.
  The channel is the demo console channel, which is at-least-once (README "delivery guarantee"): a send
  repeated after a worker was killed mid-send is one ``Delivery`` with ``attempts`` > 1, counted as
  ``resent``.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from krx import KST

KINDS = {"I": "entry", "D": "exit"}
FINAL_DELIVERY = {"sent"}


def _t(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _minute(moment: datetime) -> str:
    """The minute of an alert's dedup key (``ConditionAlert.dedup_key``: KST)."""
    return moment.astimezone(KST).strftime("%Y%m%d%H%M")


def _inside(moment: datetime, windows: list[tuple[datetime, datetime]]) -> bool:
    return any(start <= moment <= end for start, end in windows)


def compare_events(
    sim_changes: list[list[str]],
    events: list[dict[str, Any]],
    realtime_seqs: set[str],
    *,
    start: datetime,
    blind: list[tuple[datetime, datetime]],
    slack: timedelta,
    final_members: set[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """``sim_changes``: ``[seq, code, "I"|"D", iso time]``; ``events``: dicts with seq, code, kind
    (entry/exit), at, source. Returns counts and ``problems`` (empty when nothing was lost, duplicated or
    invented)."""
    truth: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for seq, code, kind, at in sim_changes:
        truth[(seq, code)].append((_t(at), KINDS[kind]))
    recorded: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        recorded[(e["seq"], e["code"])].append({**e, "at": _t(e["at"])})
    problems: list[str] = []
    counts: Counter[str] = Counter()
    keys = Counter((e["seq"], e["code"], e["kind"], _t(e["at"])) for e in events)
    problems += [f"duplicate key {k}" for k, n in keys.items() if n > 1]

    def may_skip(seq: str, moment: datetime) -> bool:
        return moment <= start or seq not in realtime_seqs or _inside(moment, blind)

    for pair in sorted(set(truth) | set(recorded)):
        seq, code = pair
        changes = sorted(truth.get(pair, []))
        rows = sorted(recorded.get(pair, []), key=lambda e: (e["at"], e.get("id", 0)))
        for a, b in itertools.pairwise(rows):
            if a["kind"] == b["kind"]:
                problems.append(
                    f"{pair}: {a['kind']} recorded twice in a row ({a['at']}, {b['at']})"
                )
        i = 0
        for row in rows:
            found = None
            exact = [
                j for j in range(i, len(changes)) if changes[j] == (row["at"], row["kind"])
            ]  # a 02 frame
            for j in exact or range(i, len(changes)):  # else a search's list (any source)
                at, kind = changes[j]
                undone = changes[j + 1][0] if j + 1 < len(changes) else None
                seen = at <= row["at"] + slack and (undone is None or undone >= row["at"] - slack)
                if kind == row["kind"] and (exact or seen):
                    found = j
                    break
            if found is None:
                problems.append(
                    f"{pair}: {row['source']} {row['kind']} at {row['at']} matches no change"
                )
                continue
            problems += _skipped(pair, changes[i:found], may_skip, start, counts)
            counts[f"matched_{row['source']}"] += 1
            i = found + 1
        problems += _skipped(pair, changes[i:], may_skip, start, counts, trailing=True)
    if final_members is not None:
        simulated = {pair for pair, changes in truth.items() if max(changes)[1] == "entry"}
        for seq, code in sorted(simulated ^ final_members):
            problems.append(
                f"{(seq, code)}: final membership differs (simulator: {(seq, code) in simulated})"
            )
    counts["sim_changes"] = len(sim_changes)
    counts["sim_changes_after_start"] = sum(1 for c in sim_changes if _t(c[3]) > start)
    counts["events"] = len(events)
    return {"counts": dict(sorted(counts.items())), "problems": problems}


def _skipped(
    pair: tuple[str, str],
    run: list[tuple[datetime, str]],
    may_skip: Callable[[str, datetime], bool],
    start: datetime,
    counts: Counter[str],
    *,
    trailing: bool = False,
) -> list[str]:
    """Simulator changes no recorded event matched: allowed only where nobody could see them, and in
    pairs, unless the run begins before the comparison's start (the baseline adopted that state)."""
    if not run:
        return []
    problems = [f"{pair}: {kind} at {at} lost" for at, kind in run if not may_skip(pair[0], at)]
    if len(run) % 2 and run[0][0] > start:
        where = " at the end" if trailing else ""
        problems.append(
            f"{pair}: {len(run)} change(s) from {run[0][0]} unmatched{where}: the recorded "
            "membership differs from the simulator's"
        )
    counts["unobserved_changes"] += sum(1 for at, _ in run if at > start)
    return problems


def account_notifications(
    events: list[dict[str, Any]],
    conditions: dict[str, dict[str, Any]],
    notifications: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    channels: set[int],
) -> dict[str, Any]:
    """Recorded events against alert items, and alerting notifications against their deliveries on
    ``channels``."""
    problems: list[str] = []
    counts: Counter[str] = Counter()
    items: Counter[tuple[str, str, bool, datetime]] = Counter()
    alerting: set[int] = set()
    for n in notifications:
        if not str(n["kind"]).startswith("condition."):
            continue
        data = n["data"] or {}
        for a in data.get("alerts") if data.get("batch") else [data]:
            items[(a["condition_seq"], a["code"], bool(a.get("entered", n["kind"] == "condition.entry")), _t(a["at"]))] += 1  # fmt: skip
        alerting.add(n["id"])
    expected: dict[tuple[str, str, bool, datetime], dict[str, Any]] = {}
    for e in events:
        cond = conditions[e["seq"]]
        entered = e["kind"] == "entry"
        if cond["notify_entry" if entered else "notify_exit"]:
            expected[(e["seq"], e["code"], entered, _t(e["at"]))] = e
    for key, n in items.items():
        if key not in expected:
            problems.append(f"alert {key} has no recorded event")
        elif n > 1:
            problems.append(f"alert {key} sent in {n} notifications")
    told_minutes = {(s, c, d, _minute(at)) for s, c, d, at in items}
    for key in expected:
        if key in items:
            counts["alerted_events"] += 1
        elif (key[0], key[1], key[2], _minute(key[3])) in told_minutes:
            counts["alerts_same_minute"] += 1  # one alert per (condition, direction, code, minute)
        else:
            problems.append(f"event {key} was never alerted")
    counts["alert_items"] = sum(items.values())
    counts["alerting_notifications"] = len(alerting)
    by_id = {d["id"]: d for d in deliveries}
    per: Counter[tuple[int, int]] = Counter()
    for d in deliveries:
        if d["channel"] not in channels or d["is_digest"]:
            continue
        per[(d["notification"], d["channel"])] += 1
        status = d["status"]
        if status == "digested":
            digest = by_id.get(d["digest"])
            status = f"digested/{digest['status'] if digest else 'missing'}"
            ok = digest is not None and digest["status"] in FINAL_DELIVERY
        else:
            ok = status in FINAL_DELIVERY
        counts[f"deliveries_{status}"] += 1
        if d["attempts"] > 1:
            counts["deliveries_resent"] += 1
        if not ok:
            problems.append(f"delivery {d['id']} of notification {d['notification']} is {status}")
    for nid in sorted(alerting):
        for channel in sorted(channels):
            if per[(nid, channel)] != 1:
                problems.append(
                    f"notification {nid}: {per[(nid, channel)]} deliveries on channel {channel}"
                )
    return {"counts": dict(sorted(counts.items())), "problems": problems}


def settle_and_collect(wait_seconds: float = 60.0) -> None:
    """After the run, inside Django (``manage.py shell -c``, one process): search every watched condition
    once more (``manage.py conditions check``), wait until no send is pending or held (a throttled digest
    goes out ``NOTIFY_DIGEST_DELAY_SECONDS`` after it opened; the sweep runs every 15 s), then ``collect``."""
    import sys
    import time

    from django.core.management import call_command

    from apps.notifications.models import Delivery

    call_command("conditions", "check", stdout=sys.stderr)
    deadline = time.monotonic() + wait_seconds
    busy = ("pending", "sending", "batched")
    while Delivery.objects.filter(status__in=busy).exists() and time.monotonic() < deadline:
        time.sleep(1)
    collect()


def collect() -> None:
    """Print (JSON) what the accounting needs from the database: run inside Django (``manage.py shell -c``)."""
    from apps.conditions.models import Condition, ConditionEvent, ConditionMember
    from apps.notifications.models import Delivery, Notification, NotificationChannel

    conditions = {
        c.seq: {
            "realtime": c.realtime,
            "active": c.active,
            "notify_entry": c.notify_entry,
            "notify_exit": c.notify_exit,
        }
        for c in Condition.objects.all()
    }
    data = {
        "conditions": conditions,
        "members": sorted(
            [m.condition.seq, m.code]
            for m in ConditionMember.objects.filter(is_member=True).select_related("condition")
        ),
        "events": [
            {
                "id": e.pk,
                "seq": e.condition.seq,
                "code": e.code,
                "kind": e.kind,
                "at": e.at.isoformat(),
                "source": e.source,
            }
            for e in ConditionEvent.objects.select_related("condition").order_by("id")
        ],
        "notifications": [
            {"id": n.pk, "kind": n.kind, "data": n.data}
            for n in Notification.objects.order_by("id")
        ],
        "deliveries": list(
            Delivery.objects.order_by("id").values(
                "id", "channel", "notification", "status", "is_digest", "digest", "attempts"
            )
        ),
        "channels": list(
            NotificationChannel.objects.filter(kind="console").values_list("id", flat=True)
        ),
    }
    print(json.dumps(data, default=str))
