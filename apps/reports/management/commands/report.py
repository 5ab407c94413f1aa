"""`manage.py report daily|weekly [--date YYYY-MM-DD] [--no-send]`: make a report now (once per period)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.reports.services import ReportError, report_make


class Command(BaseCommand):
    help = "Make the daily or weekly report of a trading day (default today, KST) and send it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["daily", "weekly"])
        parser.add_argument(
            "--date", help="the trading day (YYYY-MM-DD); weekly: the week up to it"
        )
        parser.add_argument("--no-send", action="store_true", help="store it without notifying")

    def handle(self, *args, **options) -> None:
        try:
            day = (
                dt.date.fromisoformat(options["date"]) if options["date"] else timezone.localdate()
            )
        except ValueError:
            raise CommandError("--date: YYYY-MM-DD expected") from None
        try:
            report, made = report_make(options["kind"], day, send=not options["no_send"])
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        state = "made" if made else "already made"
        self.stdout.write(f"{report.kind} report {report.period_start}–{report.period_end} {state}")
        self.stdout.write(report.title)
        self.stdout.write(report.body)
