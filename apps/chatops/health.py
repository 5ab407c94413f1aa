"""The bot's line on the health report (`telegram`): ok while the poller polls, down when its last poll
failed, its heartbeat is stale or the supervisor reports its process down. Listed only when
TELEGRAM_BOT_TOKEN is set."""

from __future__ import annotations

import json
import re
import time

import redis
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.models import HealthStatus
from apps.core.rediskeys import redis_key
from apps.core.redispool import pooled_redis

from .conf import setting

PROCESS = "telegram"

MESSAGES = [
    (re.compile(r"^not configured$"), _("설정되지 않음")),
    (re.compile(r"^no heartbeat yet$"), _("아직 하트비트 없음")),
]


def _redis() -> redis.Redis:
    return pooled_redis(2.0)


def _key() -> str:
    return redis_key("stockagent", "chatops", "heartbeat")


def beat(*, ok: bool, message: str) -> None:
    data = {"at": time.time(), "ok": ok, "message": message[:200]}
    _redis().set(_key(), json.dumps(data), ex=3600)


def telegram_probe(live: bool) -> tuple[str, str]:
    if not settings.TELEGRAM_BOT_TOKEN:
        return HealthStatus.UNKNOWN, "not configured"
    from apps.core.supervisor import process_state_path, read_process_states

    proc = read_process_states(process_state_path()).get(PROCESS)
    if proc and proc.get("state") != "up":
        return HealthStatus.DOWN, f"process {PROCESS}: {proc.get('state')}"
    raw = _redis().get(_key())
    if not raw:
        return HealthStatus.DOWN, "no heartbeat yet"
    data = json.loads(raw)
    age = time.time() - float(data["at"])
    stale = setting("TELEGRAM_POLL_TIMEOUT_SECONDS") + settings.HEALTH_STALE_SECONDS
    if age > stale:
        return HealthStatus.DOWN, f"no heartbeat for {age:.0f}s"
    return (HealthStatus.OK if data["ok"] else HealthStatus.DOWN), data["message"]


def register() -> None:
    """On the report only where a bot is configured (an installation without one has nothing to show)."""
    from apps.core.health import register_component

    if not settings.TELEGRAM_BOT_TOKEN:
        return
    register_component("telegram", _("텔레그램 봇"), telegram_probe, MESSAGES)
