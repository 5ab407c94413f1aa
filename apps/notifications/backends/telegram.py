"""Telegram channel: bot API ``POST {TELEGRAM_API_BASE}/bot<token>/sendMessage``; a message with an image
attachment is one ``sendPhoto`` (multipart) with the text as its caption when the text fits a caption
(1,024 characters), else the text by ``sendMessage`` and then the photo."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from httpx import Response

from apps.notifications.backends.base import (
    Attachment,
    BaseBackend,
    OutgoingMessage,
    SendError,
    post,
    post_json,
    raise_for_status,
)
from apps.notifications.models import NotificationChannel

# sendMessage refuses text over 4096 characters (after entity parsing; we send plain text).
TELEGRAM_MAX_CHARS = 4096
TELEGRAM_MAX_CAPTION = 1024

logger = logging.getLogger(__name__)


class TelegramBackend(BaseBackend):
    kind = "telegram"

    def send(self, channel: NotificationChannel, message: OutgoingMessage) -> None:
        base = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{channel.secret}"
        api_host = urlsplit(settings.TELEGRAM_API_BASE).hostname or ""
        image = next((a for a in message.attachments if a.is_image), None)
        text = message.as_text(limit=TELEGRAM_MAX_CHARS)
        if image is not None and len(text) <= TELEGRAM_MAX_CAPTION:
            _check_ok(_send_photo(base, api_host, channel.target, image, caption=text))
            return
        payload = {"chat_id": channel.target, "text": text, "disable_web_page_preview": True}
        _check_ok(post_json(f"{base}/sendMessage", payload, allowed_hosts=[api_host]))
        if image is None:
            return
        # The text is delivered: a failed photo must not make the delivery retry (the text would repeat).
        try:
            _check_ok(_send_photo(base, api_host, channel.target, image, caption=""))
        except SendError as exc:
            logger.warning("telegram: the photo after the text was not sent (%s)", exc)


def _send_photo(
    base: str, api_host: str, chat_id: str, image: Attachment, caption: str
) -> Response:
    return post(
        f"{base}/sendPhoto",
        allowed_hosts=[api_host],
        data={"chat_id": chat_id, "caption": caption},
        files={"photo": (image.filename, image.content, image.content_type)},
    )


def _check_ok(response: Response) -> None:
    raise_for_status(response)
    try:
        ok = response.json().get("ok", False)
    except ValueError:
        ok = False
    if not ok:
        raise SendError("telegram: ok=false", retry=False)
