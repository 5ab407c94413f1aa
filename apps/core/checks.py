"""System checks that refuse unsafe combinations at start-up (manage.py check, runserver, migrate, ...)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def check_trading_safety(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    host = urlsplit(settings.KIWOOM_BASE_URL).hostname or ""
    ws_host = urlsplit(settings.KIWOOM_WS_URL).hostname or ""
    if settings.DEBUG and settings.KIWOOM_REAL_HOST in (host, ws_host):
        errors.append(
            Error(
                "DEBUG is on while KIWOOM_BASE_URL/KIWOOM_WS_URL point at the real Kiwoom host.",
                hint="Turn DEBUG off for live trading, or use the mock host or the simulator.",
                id="stockagent.E001",
            )
        )
    if not settings.DEBUG and not settings.FIELD_ENCRYPTION_KEY:
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEY is not set; broker credentials cannot be stored encrypted.",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="stockagent.E002",
            )
        )
    if settings.FIELD_ENCRYPTION_KEY:
        from cryptography.fernet import Fernet

        try:
            Fernet(settings.FIELD_ENCRYPTION_KEY)
        except ValueError:
            errors.append(
                Error(
                    "FIELD_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64 bytes).",
                    id="stockagent.E003",
                )
            )
    if not settings.SECRET_KEY:
        errors.append(Error("SECRET_KEY is not set.", id="stockagent.E004"))
    return errors
