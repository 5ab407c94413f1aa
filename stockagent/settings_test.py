"""Settings for the test suite: the real settings pointed at Postgres and Redis on this machine.

Environment variables still win, so CI or a developer can point the suite elsewhere (README: Testing).
"""

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")


def suite_database_name(environ: Mapping[str, str] = os.environ) -> str:
    """The database the suite runs on: TEST_DATABASE_NAME, else Django's default "test_" + NAME."""
    name = environ.get("TEST_DATABASE_NAME", "")
    return name or "test_" + urlsplit(environ["DATABASE_URL"]).path.lstrip("/")


# Every Redis key of the suite starts with its test database name, so two suites on different test
# databases never share a key even on the same Redis database. Set here (not only in the settings below)
# so that the workers and servers the tests start inherit it.
os.environ.setdefault("REDIS_KEY_PREFIX", f"{suite_database_name()}:")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI=")
os.environ.setdefault(
    "STOCKAGENT_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)
# The notification tests post to fake Slack/Telegram servers on 127.0.0.1 and to hooks.slack.test URLs.
os.environ.setdefault("NOTIFY_ALLOW_LOCAL_HOSTS", "127.0.0.1")
os.environ.setdefault("NOTIFY_SLACK_HOSTS", "hooks.slack.com,hooks.slack.test")
# Most tests trade without a balance snapshot: the risk engine assumes the simulator's starting cash.
os.environ.setdefault("RISK_EQUITY_FALLBACK_KRW", "100000000")

from stockagent.settings import *  # noqa: E402, F403 - after the environment defaults above

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast factories; tests only
# A worker a test starts syncs no balance at its start (apps.accounts.tasks): the syncs it queued would be
# left for the next test's worker. (Not in settings.py: the knob is for tests only.)
ACCOUNTS_SYNC_AT_START = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Throttle counters per test process (cleared between tests by the root conftest), not in the shared Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
