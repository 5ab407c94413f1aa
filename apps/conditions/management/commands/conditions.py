"""`manage.py conditions sync|list|check`: the condition searches from a terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.broker.backends import get_broker
from apps.broker.contract import BrokerError
from apps.conditions import selectors, services
from apps.conditions.models import Condition, ConditionEvent, EventKind, Source
from apps.core.templatetags.stockagent import kst


class Command(BaseCommand):
    help = (
        "sync: pull the HTS condition list (CNSRLST); list: the conditions and their switches; "
        "check [SEQ…]: search now and record entries/exits (any time of day; the scheduled check only "
        "runs in sessions)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["sync", "list", "check"])
        parser.add_argument(
            "seqs", nargs="*", help="condition seq(s) for check (default: all active)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "sync":
                self._sync()
            elif action == "list":
                self._list()
            else:
                self._check(options["seqs"])
        except BrokerError as exc:
            raise CommandError(f"broker: {exc}") from exc

    def _sync(self) -> None:
        result = services.conditions_sync_from_broker(get_broker())
        self.stdout.write(
            f"created {result.created or '-'}, renamed {result.renamed or '-'}, "
            f"no longer in the HTS {result.unlisted or '-'}"
        )

    def _list(self) -> None:
        rows = selectors.conditions_list()
        if not rows:
            self.stdout.write("no conditions yet: run `manage.py conditions sync`")
        for c in rows:
            flags = "".join(
                mark if on else "-"
                for mark, on in (
                    ("A", c.active),
                    ("R", c.realtime),
                    ("I", c.notify_entry),
                    ("O", c.notify_exit),
                )
            )
            listed = "" if c.listed else "  (not in the HTS list)"
            checked = kst(c.last_checked_at, "%Y-%m-%d %H:%M:%S") if c.last_checked_at else "never"
            self.stdout.write(
                f"{c.seq:>4} {flags} {c.member_count:5d} members  checked {checked}  {c.name}{listed}"
            )
        self.stdout.write("flags: A active (30-s check), R realtime, I entry alerts, O exit alerts")

    def _check(self, seqs: list[str]) -> None:
        qs = Condition.objects.filter(listed=True, account=services.default_account())
        qs = qs.filter(seq__in=seqs) if seqs else qs.filter(active=True)
        conditions = list(qs.order_by("seq"))
        missing = sorted(set(seqs) - {c.seq for c in conditions})
        if missing:
            raise CommandError(
                f"unknown condition seq(s): {', '.join(missing)} (run `conditions sync`)"
            )
        if not conditions:
            raise CommandError("no active conditions to check")
        broker = get_broker()
        failed = 0
        for cond in conditions:
            started = timezone.now()
            result = services.condition_check(cond, broker, source=Source.MANUAL)
            if result.error:
                failed += 1
                self.stderr.write(f"[{cond.seq}] {cond.name}: failed: {result.error}")
                continue
            note = " (baseline: no alerts)" if result.baseline else ""
            self.stdout.write(
                f"[{cond.seq}] {cond.name}: {result.member_count} members, "
                f"{len(result.entries)} entries, {len(result.exits)} exits{note}"
                f"{_recorded_meanwhile(cond.pk, started, result.entries + result.exits)}"
            )
        if failed:
            raise CommandError(f"{failed} condition(s) failed")


_PATHS = {
    Source.POLL: "the 30-second check",
    Source.REALTIME: "the realtime feed",
    Source.MANUAL: "another search",
}


def _recorded_meanwhile(condition_id: int, since: datetime, own: list[int]) -> str:
    """Entries/exits another path (the 30-second check, realtime) recorded while this check ran: one
    entry is one event whichever path sees it first, so this check's own count can be 0 while the
    stocks did enter. Say so instead of a bare "0 entries"."""
    rows = (
        ConditionEvent.objects.filter(condition_id=condition_id, recorded_at__gte=since)
        .exclude(pk__in=own)
        .values_list("kind", "source")
    )
    counts: dict[tuple[str, str], int] = {}
    for kind, source in rows:
        counts[(kind, source)] = counts.get((kind, source), 0) + 1
    if not counts:
        return ""
    parts = [
        f"{n} {'entries' if kind == EventKind.ENTRY else 'exits'} by {_PATHS.get(source, source)}"
        for (kind, source), n in sorted(counts.items())
    ]
    return f" ({', '.join(parts)} recorded meanwhile)"
