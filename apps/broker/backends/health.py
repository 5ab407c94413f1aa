"""The broker's part of the health report: the shared request budget's use per priority class.

Read straight from the limiter's Redis keys with a short-timeout sync client, so the web process
needs no broker client (no loop thread, no token) to show it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import redis
from django.conf import settings

from apps.broker.kiwoom.ratelimit import (
    QUEUE_SUFFIX,
    limiter_prefix,
    summarize_usage,
    usage_bucket_keys,
)

if TYPE_CHECKING:
    from . import BrokerCredentials

log = logging.getLogger(__name__)

__all__ = ["request_budget"]


def request_budget(credentials: BrokerCredentials | None = ...) -> dict[str, object]:  # type: ignore[assignment]
    """`{"per_second": 5.0, "classes": [{"class": "order", "requests_last_minute": 3,
    "waiting": 0}, ...]}` (orders first); `{}` without the Kiwoom backend or when Redis is down.
    `credentials`: those of the active account when the caller has read them already (default: read
    through the credentials source)."""
    if (getattr(settings, "BROKER_BACKEND", "kiwoom") or "kiwoom").lower() != "kiwoom":
        return {}
    from . import active_credentials, kiwoom_config_from_settings

    if credentials is ...:
        credentials = active_credentials()
    config = kiwoom_config_from_settings(credentials)
    prefix = limiter_prefix(config.key_prefix, config.base_url)
    from apps.core.redispool import pooled_redis

    try:
        with pooled_redis(1.0).pipeline(transaction=False) as pipe:
            for key in usage_bucket_keys(prefix, int(time.time())):
                pipe.hgetall(key)
            pipe.zrange(f"{prefix}:{QUEUE_SUFFIX}", 0, -1, withscores=True)
            results = pipe.execute()
    except redis.RedisError as exc:
        log.warning("request budget unavailable: %s", type(exc).__name__)
        return {}
    usage = summarize_usage(results[:-1], results[-1])
    return {
        "per_second": config.query_rate,
        "classes": [
            {"class": u.name, "requests_last_minute": u.requests_last_minute, "waiting": u.waiting}
            for u in usage
        ],
    }
