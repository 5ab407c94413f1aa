"""The bot's long-polling loop (`manage.py run_telegram`): getUpdates from the cursor, each update
journalled and its cursor moved in one transaction before the command runs (so a restart never runs it
again), the reply sent after.

Network and API errors back off (1, 2, 4 … s up to a minute) and never end the
loop; a step that raises anything else is logged and backed off the same way. Each step writes the
heartbeat the health report reads (`apps.chatops.health`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection

from . import health
from .bot import BotAPI, BotError
from .commands import handle
from .conf import setting
from .selectors import cursor_of

log = logging.getLogger(__name__)

BACKOFF_MAX_SECONDS = 60.0


class Poller:
    def __init__(
        self,
        api: BotAPI,
        *,
        poll_timeout: int | None = None,
        backoff_base: float = 1.0,
        backoff_max: float | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.api = api
        self.poll_timeout = (
            setting("TELEGRAM_POLL_TIMEOUT_SECONDS") if poll_timeout is None else poll_timeout
        )
        self.backoff_base = backoff_base
        self.backoff_max = BACKOFF_MAX_SECONDS if backoff_max is None else backoff_max
        self.failures = 0
        self.polling = False  # inside the long poll: a stop may interrupt it (nothing is half done)
        self.stopping = threading.Event()
        self._sleep = sleep or self.stopping.wait

    def stop(self) -> None:
        self.stopping.set()

    def step(self) -> int:
        """One getUpdates and the commands it brought; returns how many updates were taken."""
        if (
            not connection.in_atomic_block
        ):  # a long-lived process: drop a dead or too old connection
            close_old_connections()
        offset = cursor_of(self.api.id) + 1
        self.polling = True
        try:
            updates = self.api.get_updates(offset, self.poll_timeout)
        finally:
            self.polling = False
        for update in updates:
            done = handle(self.api.id, update)
            if done is None:
                continue
            row, message, reply = done
            self._reply(row, message.chat_id, reply)
        return len(updates)

    def _reply(self, row: Any, chat_id: int, reply: str) -> None:
        if not reply:
            return
        try:
            self.api.send_message(chat_id, reply)
        except BotError as exc:  # at most once: the command ran, its reply is in the journal
            log.warning("telegram: reply to chat %s not sent (%s)", chat_id, exc)
            return
        row.reply_sent = True
        row.save(update_fields=["reply_sent"])

    def backoff(self) -> float:
        return min(self.backoff_base * 2 ** max(self.failures - 1, 0), self.backoff_max)

    def announce(self) -> None:
        """The command menu Telegram shows in the chat (best effort: a failure only loses the menu)."""
        from .replies import menu

        try:
            self.api.call("setMyCommands", {"commands": menu()})
        except BotError as exc:
            log.info("telegram: command menu not set (%s)", exc)

    def run(self) -> None:
        log.info("telegram: polling as %r", self.api)
        self.announce()
        while not self.stopping.is_set():
            try:
                taken = self.step()
            except BotError as exc:
                self._failed(str(exc))
                continue
            except Exception as exc:  # never loop hot on an unexpected error
                log.exception("telegram: poll step failed")
                self._failed(f"error ({type(exc).__name__})")
                continue
            if self.failures:
                log.info("telegram: polling again after %d failure(s)", self.failures)
            self.failures = 0
            health.beat(ok=True, message=f"polling, {taken} update(s) in the last poll")

    def _failed(self, why: str) -> None:
        self.failures += 1
        delay = self.backoff()
        log.warning("telegram: %s; retry #%d in %.1fs", why, self.failures, delay)
        try:
            health.beat(ok=False, message=why)
        except Exception:  # Redis down too: the log line above says it
            log.warning("telegram: heartbeat not written")
        self._sleep(delay)
