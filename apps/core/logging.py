"""Log redaction: secrets never reach a log line, whatever code formatted them in."""

from __future__ import annotations

import logging
import re

# Key/value shapes that carry credentials in Kiwoom traffic and HTTP headers.
_PATTERNS = [
    re.compile(
        r"(?i)(\"?(?:appkey|app_key|secretkey|secret_key|secret|password|token|access_token|"
        r"authorization)\"?\s*[:=]\s*\"?)(?:Bearer\s+)?([^\s\",}&]+)"
    ),
    re.compile(r"(?i)(Bearer\s+)([A-Za-z0-9._\-+/=]{8,})"),
]
MASK = "***"


def redact(text: str, secrets: list[str] | None = None) -> str:
    for value in secrets or ():
        if value:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


_runtime_secrets: list[str] = []


def redact_also(value: str) -> None:
    """Mask `value` in every later log record too (secrets loaded at run time: a broker account's keys)."""
    if value and len(value) >= 6 and value not in _runtime_secrets:
        _runtime_secrets.append(value)
        _runtime_secrets.sort(key=len, reverse=True)


class RedactSecretsFilter(logging.Filter):
    """Renders each record's message once, masks known secret values and credential-shaped pairs."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._secrets: list[str] | None = None

    def _known_secrets(self) -> list[str]:
        if self._secrets is None:
            try:
                from django.conf import settings

                self._secrets = sorted(
                    set(getattr(settings, "SECRET_VALUES_FOR_REDACTION", [])), key=len, reverse=True
                )
            except Exception:
                return []
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message, self._known_secrets() + _runtime_secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._known_secrets() + _runtime_secrets)
        return True
