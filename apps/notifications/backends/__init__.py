"""Channel backends: one small contract (like Django's mail backends), one module per channel kind.

``get_backend(kind)`` returns the backend for a ``ChannelKind``; each has ``send(channel, message)`` which
returns on success and raises ``SendError`` otherwise. Errors carry only secret-free text (an HTTP status,
an exception class name), never a webhook URL or a token.
"""

from __future__ import annotations

from apps.notifications.backends.base import BaseBackend, OutgoingMessage, SendError


def get_backend(kind: str) -> BaseBackend:
    from apps.notifications.backends.console import ConsoleBackend
    from apps.notifications.backends.email import EmailBackend
    from apps.notifications.backends.slack import SlackBackend
    from apps.notifications.backends.telegram import TelegramBackend

    backends: dict[str, type[BaseBackend]] = {
        "console": ConsoleBackend,
        "slack": SlackBackend,
        "email": EmailBackend,
        "telegram": TelegramBackend,
    }
    try:
        return backends[kind]()
    except KeyError as exc:
        raise SendError(f"unknown channel kind {kind!r}", retry=False) from exc


__all__ = ["BaseBackend", "OutgoingMessage", "SendError", "get_backend"]
