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


@register(Tags.compatibility, deploy=False)
def check_channel_layer_timeouts(app_configs=None, **kwargs) -> list[Error]:
    """A Redis channel layer whose socket timeout is not longer than its blocking read drops every idle
    /ws/live socket (redis-py 8 defaults socket_timeout to 5 s, channels-redis blocks for 5 s)."""
    errors: list[Error] = []
    for alias, layer in getattr(settings, "CHANNEL_LAYERS", {}).items():
        if not layer.get("BACKEND", "").startswith("channels_redis."):
            continue
        from channels_redis.core import RedisChannelLayer

        blocking = RedisChannelLayer.brpop_timeout
        for host in layer.get("CONFIG", {}).get("hosts", []):
            timeout = _socket_timeout(host)
            if timeout is not None and timeout <= blocking:
                errors.append(
                    Error(
                        f"CHANNEL_LAYERS[{alias!r}]: Redis socket_timeout {timeout} s is not longer than "
                        f"channels-redis's blocking read ({blocking} s); idle WebSockets would be closed.",
                        hint="Give the layer's host a socket_timeout above the blocking read "
                        "(settings.channel_layer_host does).",
                        id="stockagent.E005",
                    )
                )
    return errors


def _socket_timeout(host) -> float | None:
    # A bare URL or (host, port) gets redis-py's default (5 s in redis-py 8, none before); a dict says what
    # it sets.
    try:
        from redis._defaults import DEFAULT_SOCKET_TIMEOUT
    except ImportError:  # redis-py < 8: no default timeout
        DEFAULT_SOCKET_TIMEOUT = None

    if isinstance(host, dict):
        return host.get("socket_timeout", DEFAULT_SOCKET_TIMEOUT)
    return DEFAULT_SOCKET_TIMEOUT
