"""The bot's tunables: a Django setting of the same name wins, else the environment, else the default
(kept out of stockagent/settings.py, which is at its size limit; listed in the README's settings table)."""

from __future__ import annotations

import environ
from django.conf import settings

_env = environ.Env()
DEFAULTS = {
    "TELEGRAM_POLL_TIMEOUT_SECONDS": 25,  # getUpdates long poll
    "TELEGRAM_LINK_CODE_SECONDS": 600,  # a one-time link code's life
    "TELEGRAM_CONFIRM_SECONDS": 60,  # /flatten → /confirm within
}


def setting(name: str) -> int:
    value = getattr(settings, name, None)
    if value is not None:
        return int(value)
    return _env.int(name, default=DEFAULTS[name])
