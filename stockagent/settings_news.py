"""The news service's settings (apps.news), read from the environment by `stockagent.settings`, which
imports them after loading `.env` (README: "News")."""

from __future__ import annotations

import environ

__all__ = [
    "NEWS_API_MAX_ITEMS",
    "NEWS_CACHE_TTL_SECONDS",
    "NEWS_CHANNEL",
    "NEWS_RETRY_AFTER_SECONDS",
    "NEWS_SERVICE_URL",
    "NEWS_SIM_PUBLISH",
    "NEWS_TIMEOUT_SECONDS",
]

env = environ.Env()

# --- News (apps.news) ------------------------------------------------------------------------------------
# The news-score service (README: "News"). Empty: the bundled simulator's news source (KIWOOM_BASE_URL) when
# the broker is the simulator; with real Kiwoom keys and no URL the news filter is not configured (fails closed).
NEWS_SERVICE_URL = env.str("NEWS_SERVICE_URL", default="")
NEWS_CACHE_TTL_SECONDS = env.int("NEWS_CACHE_TTL_SECONDS", default=60)
NEWS_TIMEOUT_SECONDS = env.float("NEWS_TIMEOUT_SECONDS", default=1.0)
# After a failed call nobody (no process) calls the service again for this long: scores fail closed.
NEWS_RETRY_AFTER_SECONDS = env.float("NEWS_RETRY_AFTER_SECONDS", default=30.0)
# The breaking-news Redis pub/sub channel (REDIS_KEY_PREFIX is put in front of it).
NEWS_CHANNEL = env.str("NEWS_CHANNEL", default="news_breaking_kr")
# The bundled simulator publishes its breaking items on NEWS_CHANNEL (REDIS_URL) when no service is set.
NEWS_SIM_PUBLISH = env.bool("NEWS_SIM_PUBLISH", default=True)
NEWS_API_MAX_ITEMS = env.int("NEWS_API_MAX_ITEMS", default=500)  # items per POST /api/v1/news
