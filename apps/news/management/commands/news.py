"""`manage.py news import --date 2025-01-15`: import a day's news history from the news source (the
bundled simulator's unless NEWS_SERVICE_URL is set, or `--url`), for backtests. Thin: calls
`services.news_import_day`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.news.contract import NewsUnavailable
from apps.news.parsing import InvalidNews
from apps.news.services import news_import_day


class Command(BaseCommand):
    help = (
        "News: `import --date YYYY-MM-DD [--url URL]` stores a day's news history from the source."
    )

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a day's news history")
        imp.add_argument("--date", required=True, help="the trading day, YYYY-MM-DD")
        imp.add_argument("--url", help="the news source's base URL (default: the configured one)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            day = dt.date.fromisoformat(opts["date"])
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        try:
            result = news_import_day(day, opts.get("url"))
        except (NewsUnavailable, InvalidNews) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"news {day}: {result.received} item(s) from {result.source}, "
            f"{result.created} new, {result.received - result.created} already stored"
        )
