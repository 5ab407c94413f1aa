"""Slack channel: an incoming webhook (the URL is the secret), POST ``{"text": ...}``. Incoming webhooks
cannot upload files, so attachments (a report's chart) are not sent on Slack."""

from __future__ import annotations

from django.conf import settings

from apps.notifications.backends.base import (
    BaseBackend,
    OutgoingMessage,
    post_json,
    raise_for_status,
)
from apps.notifications.models import NotificationChannel


class SlackBackend(BaseBackend):
    kind = "slack"

    def send(self, channel: NotificationChannel, message: OutgoingMessage) -> None:
        text = f"*{message.title}*\n{message.body}" if message.body else f"*{message.title}*"
        raise_for_status(
            post_json(channel.secret, {"text": text}, allowed_hosts=settings.NOTIFY_SLACK_HOSTS)
        )
