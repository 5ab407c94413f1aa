"""`manage.py run_realtime`: the long-lived process that holds the broker WebSocket (see `apps.realtime.hub`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand

from apps.broker.backends import get_broker
from apps.core import aio, gcpause
from apps.realtime.hub import Hub

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Hold the Kiwoom WebSocket and dispatch its events to the handlers apps register: realtime "
        "condition entries/exits (02), ticks (0B) to minute bars, condition searches relayed for other "
        "processes, a heartbeat. Stops cleanly on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--ticks",
            default=None,
            help="comma-separated codes whose 0B ticks to aggregate (default: REALTIME_TICK_CODES)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ticks = options.get("ticks")
        codes = [c.strip() for c in ticks.split(",") if c.strip()] if ticks else None
        from apps.accounts.selectors import active_account_no

        # Read here, not in a handler factory: the factories run inside the event loop, where the ORM
        # refuses synchronous queries.
        hub_options: dict[str, Any] = {"account": active_account_no()}
        # The process's broker too: its keys are the active account's, read from the database (inside
        # the loop that read failed and the settings' keys were used until the account check).
        get_broker()
        if codes is not None:
            hub_options["tick_codes"] = codes
        aio.run(self._main(hub_options))

    async def _main(self, hub_options: dict[str, Any]) -> None:
        hub = Hub(options=hub_options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, hub.stop)
        self.stdout.write(
            f"realtime: starting ({', '.join(s.name for s in hub.slots) or 'no handlers'})"
        )
        # The collector off the order path (apps.core.gcpause): start-up's heap frozen now, and what
        # the handlers built while warming up (caches, bars, subscriptions) once they have.
        gcpause.freeze_after_start(loop)
        await hub.run()
        self.stdout.write("realtime: stopped")
