"""manage.py backfill --from YYYY-MM-DD --to YYYY-MM-DD [CODE ...] — fill and validate bars
through the broker (ka10080 minute bars, ka10081 daily bars) and print a gap report."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.market import backfill
from apps.market.models import Instrument


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from exc


class Command(BaseCommand):
    help = "Backfill minute/daily bars from the broker, validate sessions, report gaps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("codes", nargs="*", help="6-character codes (or --all)")
        parser.add_argument("--from", dest="start", required=True)
        parser.add_argument("--to", dest="end", required=True)
        parser.add_argument("--all", action="store_true", help="every instrument in the database")
        parser.add_argument(
            "--what", choices=["minute", "daily", "both"], default="both", help="bars to fill"
        )
        parser.add_argument("--max-repairs", type=int, default=2)

    def handle(self, *args: object, **options: object) -> None:
        from apps.broker.backends import get_broker

        start, end = _date(str(options["start"])), _date(str(options["end"]))
        if end < start:
            raise CommandError("--to is before --from")
        codes = list(options["codes"])  # type: ignore[arg-type]
        if options["all"]:
            codes = list(Instrument.objects.values_list("code", flat=True))
        if not codes:
            raise CommandError("give one or more codes, or --all")
        broker = get_broker()
        now = timezone.now()
        report = backfill.GapReport()
        if options["what"] in ("daily", "both"):
            backfill.backfill_daily(broker, codes, start, end, now, report=report)
        if options["what"] in ("minute", "both"):
            backfill.backfill_minutes(
                broker, codes, start, end, now, int(options["max_repairs"]), report=report
            )
        for line in report.lines():
            self.stdout.write(line)
        if not report.complete:
            raise CommandError("backfill finished with gaps or errors (see the report above)")
