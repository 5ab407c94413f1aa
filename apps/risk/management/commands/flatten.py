"""`manage.py flatten [--reason R] [--key K] [--queue] [--watch SECONDS]`: the emergency liquidation from the
terminal — the same service as the page's button and `POST /api/v1/risk/emergency-sell`: closes the
trading gate, cancels every open order, sells every holding, and prints what could not be sold.

By default it runs here (this process calls the broker) and then watches the positions until they are flat
or `--watch` seconds passed; `--queue` hands the run to the `orders` queue instead and returns at once. A
liquidation already running is reported, never started twice; `--key` makes a retried command the same run.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.risk.services.liquidation import (
    CHECK_EVERY_SECONDS,
    FINISHED,
    LiquidationRun,
    liquidation_check,
    liquidation_request,
    liquidation_run,
)


class Command(BaseCommand):
    help = "Emergency liquidation: cancel every open order and sell every holding (closes the trading gate)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reason", default="manage.py flatten")
        parser.add_argument("--key", default=None, help="idempotency key (a retry reuses it)")
        parser.add_argument(
            "--queue", action="store_true", help="run on the orders queue, return at once"
        )
        parser.add_argument("--watch", type=float, default=60.0, help="seconds to watch the sells")

    def handle(self, *args: Any, **o: Any) -> None:
        run, created = liquidation_request(
            None, o["reason"], f"cli:{o['key']}" if o["key"] else None, enqueue=o["queue"]
        )
        if not created:
            self.stdout.write(f"liquidation {run.id} is already {run.status}; nothing new started")
            self._report(run)
            return
        self.stdout.write(f"liquidation {run.id}: trading gate closed")
        if o["queue"]:
            self.stdout.write(
                "queued on the orders queue; progress on /ws/live (liquidation_progress)"
            )
            return
        run = liquidation_run(run.id, schedule_checks=False)
        self.stdout.write(
            f"cancelled {run.cancelled}/{run.cancel_total} open orders; "
            f"sell orders sent for {sum(1 for line in run.lines if line.orders)}/{len(run.lines)} holdings"
        )
        deadline = time.monotonic() + o["watch"]
        while run.status not in FINISHED:
            _reconcile()  # the fills, also when no realtime process applies the 00 frames
            final = time.monotonic() >= deadline
            checked = liquidation_check(run.id, final=final)
            if checked is None:
                raise CommandError(f"liquidation {run.id} disappeared")
            run = checked
            if run.status not in FINISHED:
                time.sleep(CHECK_EVERY_SECONDS)
        self._report(run)
        if run.status != "done":
            raise CommandError(f"liquidation {run.id} ended {run.status}")

    def _report(self, run: LiquidationRun) -> None:
        self.stdout.write(f"status: {run.status}")
        for line in run.lines:
            self.stdout.write(
                f"  {line.code} {line.name}: {line.state} sold {line.sold}/{line.quantity}"
                + (f" — {line.reason}" if line.reason else "")
            )
        for text in run.cancel_failed:
            self.stdout.write(f"  not cancelled: {text}")


def _reconcile() -> None:
    from apps.trades.services import reconcile

    try:
        reconcile(trigger="manual")
    except Exception as exc:  # the watch goes on; the realtime process may be applying the fills
        logging.getLogger(__name__).warning("flatten: reconciliation failed: %r", exc)
