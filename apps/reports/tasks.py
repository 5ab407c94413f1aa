"""Celery tasks of the reports app (queue `reports`, by the `reports.` prefix). Thin: the rules live in
`apps.reports.services`.

- `reports.after_close` (beat, every 10 minutes): the last closed KRX trading day's learning metrics and
  daily report, and the weekly report after the week's last session — each made once.
- `reports.make` (on demand): one report now.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task


@shared_task(name="reports.after_close", ignore_result=True, time_limit=300)
def after_close() -> list[int]:
    from apps.broker.backends import exchange_clock
    from apps.reports.services import after_close as run

    return [r.pk for r in run(exchange_clock().now())]


@shared_task(name="reports.make", ignore_result=True, time_limit=300)
def make(kind: str, day: str) -> int:
    from apps.reports.services import report_make

    report, _ = report_make(kind, dt.date.fromisoformat(day))
    return report.pk
