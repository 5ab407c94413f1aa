"""Names of the Redis keys the project writes itself: every one starts with ``REDIS_KEY_PREFIX``.

Celery (``global_keyprefix``) and the Channels layer (``prefix``) take the same prefix in the settings;
the Kiwoom client gets it through ``KiwoomConfig.key_prefix`` (it imports no Django).
"""

from __future__ import annotations

from django.conf import settings


def redis_key(*parts: str) -> str:
    """``redis_key("stockagent", "conditions", "check")`` → ``<REDIS_KEY_PREFIX>stockagent:conditions:check``."""
    return f"{settings.REDIS_KEY_PREFIX}{':'.join(parts)}"
