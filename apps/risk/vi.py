"""Which instruments are in a volatility interruption (VI, 변동성완화장치) now: the state and its readers.

The realtime hub's `risk.vi` handler (`apps.risk.vi_handler`) keeps the state from the broker's VI
events (Kiwoom `1h`) in this process's memory and in Redis, `redis_key("stockagent", "risk", "vi")`: a
hash code → JSON `{"kind", "price", "since"}` (`since` the exchange time of the start, ISO 8601).

`vi_active(code)` is the pre-trade check's VI provider (`apps.risk.snapshot.set_vi_provider`, installed
by `RiskConfig.ready` in every process). It runs on every check, so it is cheap: in the realtime process
it reads the handler's dict; elsewhere a per-process copy of the hash, re-read at most every
`RISK_VI_CACHE_SECONDS` (one HGETALL per interval, however many checks, on the checking thread; on an
event loop — after the first read — in a background thread, so the loop never waits on Redis; a failed
read keeps the last copy until the next interval).

Expiry: a VI lasts about 2 minutes, then a release arrives. A start whose release was lost (a dropped
socket: the broker does not replay frames of the gap) counts as over `RISK_VI_MAX_SECONDS` of exchange
time after it began — long enough that a real VI is never cut short, short enough that a lost release
does not keep a stock out of entries all day. When the exchange time is not known yet in a process,
nothing expires there (the safer side: entries refused a little longer).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings

from apps.core.rediskeys import redis_key

log = logging.getLogger(__name__)

__all__ = [
    "ViState",
    "vi_active",
    "vi_current",
    "vi_key",
    "vi_max_seconds",
    "vi_read",
    "vi_use_local",
]

KEY_TTL_SECONDS = 24 * 3600  # the hash itself: gone a day after the last write


@dataclass(frozen=True, slots=True)
class ViState:
    code: str
    kind: str  # static | dynamic | both | unknown
    price: int | None  # the price that tripped it
    since: dt.datetime  # aware, the exchange's time of the start

    def until(self, max_seconds: float) -> dt.datetime:
        return self.since + dt.timedelta(seconds=max_seconds)

    def over(self, now: dt.datetime | None, max_seconds: float) -> bool:
        """Expired (a lost release); never when `now` is unknown."""
        return now is not None and now >= self.until(max_seconds)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "price": self.price, "since": self.since.isoformat()})

    @classmethod
    def from_json(cls, code: str, raw: bytes | str) -> ViState | None:
        """None (with a log line) for a value that is not ours: it is skipped, never guessed."""
        try:
            data = json.loads(raw)
            since = dt.datetime.fromisoformat(data["since"])
            if since.tzinfo is None:
                raise ValueError("naive since")
            price = data.get("price")
            return cls(
                code, str(data.get("kind") or "unknown"), int(price) if price else None, since
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("risk: VI state of %s unreadable; ignored", code)
            return None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind, "price": self.price, "since": self.since}


def vi_key() -> str:
    return redis_key("stockagent", "risk", "vi")


def vi_max_seconds() -> float:
    return float(getattr(settings, "RISK_VI_MAX_SECONDS", 600))


def _cache_seconds() -> float:
    return float(getattr(settings, "RISK_VI_CACHE_SECONDS", 0.5))


# ------------------------------------------------------------------------------------------ Redis
_clients: dict[str, redis.Redis] = {}


def redis_client() -> redis.Redis:
    """The process's client (a pool, thread-safe); short timeouts: the order path may wait on it."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return client


def vi_read() -> dict[str, ViState]:
    """The whole hash (expired entries included)."""
    out: dict[str, ViState] = {}
    for raw_code, raw in redis_client().hgetall(vi_key()).items():
        code = raw_code.decode() if isinstance(raw_code, bytes) else str(raw_code)
        state = ViState.from_json(code, raw)
        if state is not None:
            out[code] = state
    return out


def vi_write(state: ViState) -> None:
    pipe = redis_client().pipeline()
    pipe.hset(vi_key(), state.code, state.to_json())
    pipe.expire(vi_key(), KEY_TTL_SECONDS)
    pipe.execute()


def vi_delete(*codes: str) -> None:
    if codes:
        redis_client().hdel(vi_key(), *codes)


# ------------------------------------------------------------------------------------------ readers
_local: Mapping[str, ViState] | None = None  # the realtime handler's dict, in its process
_cache: dict[str, ViState] = {}
_cache_at = float("-inf")
_cache_lock = threading.Lock()


def vi_use_local(states: Mapping[str, ViState] | None) -> None:
    """The realtime process: read `states` (kept by the handler) instead of Redis; None: Redis again."""
    global _local
    _local = states


def forget() -> None:
    """Tests: drop the per-process copy and the local dict."""
    global _cache, _cache_at, _local
    _cache, _cache_at, _local = {}, float("-inf"), None


def _refresh() -> None:
    """Re-read the copy (the caller holds `_cache_lock`)."""
    global _cache, _cache_at
    try:
        # Stamped before the read: a Redis that is down costs one attempt per interval, not per check.
        _cache_at = time.monotonic()
        _cache = vi_read()
    except redis.RedisError as exc:
        log.warning("risk: VI state unreadable (%s); the last copy stands", type(exc).__name__)
    finally:
        _cache_lock.release()


_refresh_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _refresher() -> concurrent.futures.ThreadPoolExecutor:
    global _refresh_pool
    if _refresh_pool is None:
        _refresh_pool = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="risk-vi-refresh"
        )
    return _refresh_pool


def _after_fork() -> None:
    # A forked child (a prefork worker) has no copy of the parent's thread: start its own on demand.
    global _refresh_pool
    _refresh_pool = None


os.register_at_fork(after_in_child=_after_fork)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _cached() -> Mapping[str, ViState]:
    if time.monotonic() - _cache_at < _cache_seconds():
        return _cache
    if not _cache_lock.acquire(blocking=False):
        return _cache  # another thread is reading it: the last copy will do for this check
    if _on_event_loop() and _cache_at != float("-inf"):
        # An async order path outside the realtime handler's process: the loop never waits on
        # Redis; this check uses the last copy, the next ones the new one.
        # One long-lived thread, not a thread per refresh: starting a thread waits for it to run
        # (a GIL hand-off on the order path) and each start allocates enough to trigger the GC.
        _refresher().submit(_refresh)
    else:
        _refresh()
    return _cache


def _now() -> dt.datetime | None:
    """The exchange's time if this process knows it without a wait of its own (else None)."""
    from .clock import exchange_time, ready

    return exchange_time() if ready() else None


def vi_active(code: str) -> bool:
    """Is a VI in progress for `code`? The pre-trade check's provider: fast, no wait on the network."""
    states = _local if _local is not None else _cached()
    state = states.get(code)
    return state is not None and not state.over(_now(), vi_max_seconds())


def vi_current(now: dt.datetime | None = None) -> list[ViState]:
    """The codes in VI now, read fresh (the risk page, the state API, the liquidation report);
    empty when Redis is unreachable."""
    if _local is not None:
        states: Mapping[str, ViState] = dict(_local)
    else:
        try:
            states = vi_read()
        except redis.RedisError as exc:
            log.warning("risk: VI state unreadable (%s)", type(exc).__name__)
            return []
    now = now if now is not None else _now()
    limit = vi_max_seconds()
    return sorted((s for s in states.values() if not s.over(now, limit)), key=lambda s: s.code)
