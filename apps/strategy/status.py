"""Whether the strategy engine runs: its heartbeat in Redis, the `system_status` push, the health entry.

The realtime `strategy.engine` handler writes the heartbeat key (`<prefix>stockagent:strategy:engine`,
JSON `{running, at, exchange_at, strategies, watched, signals}`) every cycle with a TTL of
`STRATEGY_HEARTBEAT_TTL_SECONDS`, and deletes it at a clean stop: the engine runs while the key exists and
says `running`. `GET /api/v1/health` shows it as `engine`; `system_status` (seed 004 §8.3) is
`{status, active_positions}` with `status` `running` (engine up, entries allowed), `paused` (engine up,
the trading gate closed) or `stopped` (no engine), plus `engine_running`, `entries_allowed`, `state`,
`switch`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from apps.core.rediskeys import redis_key

log = logging.getLogger(__name__)

__all__ = [
    "engine_health",
    "engine_overview",
    "engine_status",
    "heartbeat_clear",
    "heartbeat_key",
    "heartbeat_write",
    "system_status_payload",
]


def heartbeat_key() -> str:
    return redis_key("stockagent", "strategy", "engine")


def heartbeat_ttl() -> int:
    return int(getattr(settings, "STRATEGY_HEARTBEAT_TTL_SECONDS", 30))


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def heartbeat_write(details: dict[str, Any]) -> None:
    client = _redis()
    try:
        body = {"running": True, "at": timezone.now().isoformat(), **details}
        client.set(heartbeat_key(), json.dumps(body, default=str), ex=heartbeat_ttl())
    finally:
        client.close()


def heartbeat_clear() -> None:
    client = _redis()
    try:
        client.delete(heartbeat_key())
    finally:
        client.close()


def engine_health() -> dict[str, Any]:
    """`{running, last_seen, age_seconds, ...}` from the heartbeat (running False without one)."""
    from apps.core.redispool import pooled_redis

    try:
        raw = pooled_redis(2.0).get(heartbeat_key())
    except Exception as exc:  # Redis down: health says so elsewhere; the engine is unknown
        return {"running": False, "error": type(exc).__name__}
    if not raw:
        return {"running": False, "last_seen": None, "age_seconds": None}
    try:
        body = json.loads(raw)
    except ValueError:
        return {"running": False, "last_seen": None, "age_seconds": None}
    seen = body.get("at")
    age = None
    if seen:
        from datetime import datetime

        age = round((timezone.now() - datetime.fromisoformat(seen)).total_seconds(), 1)
    return {**body, "running": bool(body.get("running")), "last_seen": seen, "age_seconds": age}


def active_positions(account_no: str | None = None) -> int:
    from apps.trades.models import Position
    from apps.trades.services.executor import default_account

    return Position.objects.filter(
        account_no=account_no or default_account(), quantity__gt=0
    ).count()


def engine_status(engine_running: bool, gate: dict[str, Any]) -> str:
    """`running` (engine up, entries allowed), `paused` (engine up, the gate closed) or `stopped`."""
    if not engine_running:
        return "stopped"
    return "running" if gate["entries_allowed"] else "paused"


def system_status_payload(engine_running: bool, account_no: str | None = None) -> dict[str, Any]:
    """The `system_status` message's data (database: call it in a thread)."""
    from apps.risk.services.gate import gate_status

    gate = gate_status()
    return {
        "status": engine_status(engine_running, gate),
        "active_positions": active_positions(account_no),
        "engine_running": engine_running,
        "entries_allowed": bool(gate["entries_allowed"]),
        "state": gate["state"],
        "switch": bool(gate["switch"]),
    }


def engine_overview(gate: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the overview's signal feed shows of the engine: `engine` (its health), `engine_state`
    (`running` / `paused` / `stopped`, as `system_status`), `engine_label` and every state's label
    (`engine_status_labels`, for the live updates). `gate`: the trading gate when already read."""
    from django.utils.translation import gettext as _

    from apps.risk.services.gate import gate_status

    engine = engine_health()
    labels = {"running": _("실행 중"), "paused": _("진입 중지 (게이트 닫힘)"), "stopped": _("정지")}
    state = engine_status(bool(engine["running"]), gate if gate is not None else gate_status())
    return {
        "engine": engine,
        "engine_state": state,
        "engine_label": labels[state],
        "engine_status_labels": labels,
    }
