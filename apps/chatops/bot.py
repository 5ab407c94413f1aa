"""The Telegram bot API client (getUpdates, sendMessage) under the notifications' outbound rules.

The token is part of every URL (`{TELEGRAM_API_BASE}/bot<token>/method`), and httpx puts the URL in its
exception messages: every transport error becomes a `BotError` that names only the method and the
exception class, so no log line, journal row or health message can carry the token. The destination is
checked like a notification channel's (`apps.notifications.backends.egress`): HTTPS to the host of
`TELEGRAM_API_BASE` on public addresses only, unless the host is in `NOTIFY_ALLOW_LOCAL_HOSTS` (tests).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from apps.core.logging import redact_also
from apps.notifications.backends.base import SendError
from apps.notifications.backends.egress import check_destination

MAX_TEXT = 4096  # sendMessage's limit (plain text)


class BotError(Exception):
    """A bot API call that failed; the message is safe to log (no URL, no token)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def bot_id(token: str) -> str:
    """The bot's numeric id (the token's part before the colon): not a secret, names the cursor."""
    return token.split(":", 1)[0] if ":" in token else "bot"


class BotAPI:
    def __init__(self, token: str, base: str | None = None, *, timeout: float = 10.0) -> None:
        if not token:
            raise ValueError("no bot token")
        self._token = token
        redact_also(token)  # masked in every later log record of this process, whatever logs it
        self.base = (base or settings.TELEGRAM_API_BASE).rstrip("/")
        self.host = urlsplit(self.base).hostname or ""
        self.timeout = timeout
        self.id = bot_id(token)
        self._client = httpx.Client(follow_redirects=False)

    def __repr__(self) -> str:  # never the token
        return f"BotAPI(bot {self.id} at {self.host})"

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, payload: dict[str, Any], *, timeout: float | None = None) -> Any:
        url = f"{self.base}/bot{self._token}/{method}"
        try:
            check_destination(url, [self.host])
        except SendError as exc:
            raise BotError(f"{method}: {exc}") from None
        try:
            response = self._client.post(
                url, json=payload, timeout=httpx.Timeout(timeout or self.timeout)
            )
        except httpx.HTTPError as exc:
            raise BotError(f"{method}: network error ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("ok"):
            description = str(body.get("description", ""))[:200].replace(self._token, "***")
            raise BotError(
                f"{method}: HTTP {response.status_code} {description}".strip(),
                status=response.status_code,
            )
        return body.get("result")

    def get_updates(self, offset: int, timeout: int) -> list[dict[str, Any]]:
        """Long poll: the updates from `offset` on (confirms every update before it to Telegram)."""
        result = self.call(
            "getUpdates",
            {"offset": offset, "timeout": timeout, "allowed_updates": ["message"]},
            timeout=timeout + 10,
        )
        return result if isinstance(result, list) else []

    def send_message(self, chat_id: int, text: str) -> None:
        self.call(
            "sendMessage",
            {"chat_id": chat_id, "text": text[:MAX_TEXT], "disable_web_page_preview": True},
        )
