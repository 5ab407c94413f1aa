"""Telegram channel: bot API ``POST {TELEGRAM_API_BASE}/bot<token>/sendMessage``."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from apps.notifications.backends.base import (
    BaseBackend,
    OutgoingMessage,
    SendError,
    post_json,
    raise_for_status,
)
from apps.notifications.models import NotificationChannel

# sendMessage refuses text over 4096 characters (after entity parsing; we send plain text).
TELEGRAM_MAX_CHARS = 4096


class TelegramBackend(BaseBackend):
    kind = "telegram"

    def send(self, channel: NotificationChannel, message: OutgoingMessage) -> None:
        url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{channel.secret}/sendMessage"
        payload = {
            "chat_id": channel.target,
            "text": message.as_text(limit=TELEGRAM_MAX_CHARS),
            "disable_web_page_preview": True,
        }
        api_host = urlsplit(settings.TELEGRAM_API_BASE).hostname or ""
        response = post_json(url, payload, allowed_hosts=[api_host])
        raise_for_status(response)
        try:
            ok = response.json().get("ok", False)
        except ValueError:
            ok = False
        if not ok:
            raise SendError("telegram: ok=false", retry=False)
