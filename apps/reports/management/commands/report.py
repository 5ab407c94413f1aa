"""`manage.py report daily|weekly|metrics [--date YYYY-MM-DD] [--no-send]`: make a report now (once per
period), or (`metrics`) compute and store a day's learning metrics now (again if they exist)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.reports.services import ReportError, learning_metrics_compute, report_make


class Command(BaseCommand):
    help = "Make the daily or weekly report of a trading day (default today, KST) and send it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["daily", "weekly", "metrics"])
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
        if options["kind"] == "metrics":
            try:
                row = learning_metrics_compute(day)
            except ReportError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"{row.date} trades={row.total_trades} wins={row.win_count} "
                f"win_rate={row.win_rate}% avg_return={row.avg_return}% "
                f"max_drawdown={row.max_drawdown}% total_pnl={row.total_pnl:,} "
                f"best={row.best_pattern or '-'} worst={row.worst_pattern or '-'}"
            )
            return
        try:
            report, made = report_make(options["kind"], day, send=not options["no_send"])
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        state = "made" if made else "already made"
        self.stdout.write(f"{report.kind} report {report.period_start}–{report.period_end} {state}")
        self.stdout.write(report.title)
        self.stdout.write(report.body)
