"""`manage.py reconcile`: compare the books with the broker now (open orders, fills, holdings)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.broker.contract import BrokerError
from apps.trades.models import ReconcileTrigger
from apps.trades.services import reconcile


class Command(BaseCommand):
    help = "Reconcile orders, fills and positions with the broker (ka10075, ka10076, kt00018)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--account", default=None, help="account number (default: the configured one)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = reconcile(trigger=ReconcileTrigger.MANUAL, account_no=options["account"])
        except BrokerError as exc:
            raise CommandError(f"broker unavailable: {exc}") from exc
        run = result.run
        self.stdout.write(
            f"resolved {len(result.resolved)} unknown order(s), inserted {result.inserted_fills} fill(s)"
        )
        if run.error:
            raise CommandError(run.error)
        for d in result.differences:
            self.stdout.write(f"DIFFERENCE {d['code']}: local {d['local']} / broker {d['broker']}")
        if not run.ok:
            self.stdout.write(self.style.ERROR("holdings differ: trading gate closed"))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("books match the broker"))
