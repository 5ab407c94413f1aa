"""Console channel: the message goes to the log (development and a last-resort channel)."""

from __future__ import annotations

import logging

from apps.notifications.backends.base import BaseBackend, OutgoingMessage
from apps.notifications.models import NotificationChannel

logger = logging.getLogger("apps.notifications.console")


class ConsoleBackend(BaseBackend):
    kind = "console"

    def send(self, channel: NotificationChannel, message: OutgoingMessage) -> None:
        logger.info("[알림 user=%s] %s", channel.user_id, message.as_text())
