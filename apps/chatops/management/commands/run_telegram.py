"""`manage.py run_telegram`: the installation's Telegram bot, long polling until SIGTERM/Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.chatops import health
from apps.chatops.bot import BotAPI
from apps.chatops.poller import Poller


class Command(BaseCommand):
    help = "Run the Telegram bot (getUpdates long polling) for remote control from chat."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set")
        api = BotAPI(settings.TELEGRAM_BOT_TOKEN)
        poller = Poller(api)

        def _stop(signum: int, frame: Any) -> None:
            # A stop waits for a command in progress; the long poll itself is cut short (up to
            # TELEGRAM_POLL_TIMEOUT_SECONDS otherwise, past the supervisor's 15 s before SIGKILL).
            poller.stop()
            if poller.polling:
                raise SystemExit(0)

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            poller.run()
        finally:
            api.close()
            # Redis gone as well: the health report goes stale instead.
            with contextlib.suppress(Exception):
                health.beat(ok=False, message="stopped")
