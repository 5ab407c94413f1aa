"""The news-score client: a stock's current score from the Redis cache or the news-score service.

One wrapper for every call to the service (`_fetch`/`_afetch`), with a short timeout and a circuit breaker:
after a failure nobody calls the service again for `NEWS_RETRY_AFTER_SECONDS` (the breaker is a Redis key
every process sees, plus a copy in this process for when Redis itself is down); meanwhile `get_score`
answers from the cache or raises `NewsUnavailable` at once, so a caller polling a dead service neither
waits nor loops through exceptions from the network. Scores are cached for `NEWS_CACHE_TTL_SECONDS`,
"no news for this stock" (HTTP 404) too. Both are the market's seconds: against the bundled simulator
at speed N they last 1/N as long in wall time (`market_seconds`, at least 1 s). The breaking-news channel and `POST /api/v1/news` put newer
scores into the same cache (`offer`/`aoffer`).

The service's contract (README: "News"): `GET {url}/news/score?code=005930` → 200 with
`{code, score, headline, source, published_at}`, or 404 when it has no news for the stock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

from apps.core.rediskeys import redis_key

from .contract import NewsItem, NewsScore, NewsUnavailable
from .parsing import InvalidNews, parse_code, parse_news_score, score_as_json

log = logging.getLogger(__name__)

__all__ = [
    "NewsUnavailable",
    "aget_score",
    "aoffer",
    "get_score",
    "news_state",
    "offer",
    "reset",
    "service_url",
]

PROBE_CODE = "005930"
_NONE = {"none": True}  # the cached "service has no news for this stock"
_MISS = object()


def service_url() -> str:
    """The news-score service's base URL: NEWS_SERVICE_URL, else the bundled simulator's (when the
    broker is the simulator), else empty (not configured)."""
    url = settings.NEWS_SERVICE_URL or (
        settings.KIWOOM_BASE_URL if settings.KIWOOM_USE_SIMULATOR else ""
    )
    return url.rstrip("/")


def market_seconds(seconds: float) -> float:
    """`seconds` of the market's time in wall seconds: divided by the simulator's speed when the service
    is the bundled simulator's (KIWOOM_SIM_SPEED; an accelerated morning must not lose a quarter of an
    hour of news to a start-up race with a 30 s breaker, nor keep a score for half an hour), at least
    one second; a real news service keeps wall time."""
    speed = float(getattr(settings, "KIWOOM_SIM_SPEED", 1.0) or 1.0)
    if settings.NEWS_SERVICE_URL or not settings.KIWOOM_USE_SIMULATOR or speed <= 1.0:
        return float(seconds)
    return max(float(seconds) / speed, 1.0)


def _retry_after() -> float:
    return market_seconds(settings.NEWS_RETRY_AFTER_SECONDS)


def _cache_ms() -> int:
    return int(market_seconds(settings.NEWS_CACHE_TTL_SECONDS) * 1000)


def _score_key(code: str) -> str:
    return redis_key("stockagent", "news", "score", code)


def _breaker_key() -> str:
    return redis_key("stockagent", "news", "breaker")


def _state_key() -> str:
    return redis_key("stockagent", "news", "state")


# ------------------------------------------------------------------------------------------ clients
_lock = threading.Lock()
_sync: dict[str, Any] = {}
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)
_open_until = 0.0  # this process's copy of the breaker (monotonic)


def _redis() -> redis.Redis:
    with _lock:
        client = _sync.get("redis")
        if client is None:
            client = _sync["redis"] = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        return client


def _http() -> httpx.Client:
    with _lock:
        client = _sync.get("http")
        if client is None:
            client = _sync["http"] = httpx.Client(follow_redirects=False)
        return client


def _aclients() -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    clients = _async.get(loop)
    if clients is None:
        clients = _async[loop] = {
            "redis": aioredis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
            ),
            "http": httpx.AsyncClient(follow_redirects=False),
        }
    return clients


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.NEWS_TIMEOUT_SECONDS)


def reset() -> None:
    """Forget this process's breaker and clients (tests; after a settings change)."""
    global _open_until
    _open_until = 0.0
    with _lock:
        http = _sync.pop("http", None)
        client = _sync.pop("redis", None)
    if http is not None:
        http.close()
    if client is not None:
        with contextlib.suppress(redis.RedisError):
            client.delete(_breaker_key(), _state_key())
        client.close()
    _async.clear()
    _state_memo.clear()


# ------------------------------------------------------------------------------------------ cache
def _decode(raw: bytes | None) -> NewsScore | object | None:
    if raw is None:
        return _MISS
    try:
        data = orjson.loads(raw)
        if data == _NONE:
            return None
        return parse_news_score(data)
    except (orjson.JSONDecodeError, InvalidNews):
        return _MISS


def _encode(score: NewsScore | None) -> bytes:
    return orjson.dumps(_NONE if score is None else score_as_json(score))


def _newer(candidate: NewsScore | NewsItem, cached: NewsScore | object | None) -> bool:
    return not isinstance(cached, NewsScore) or candidate.published_at >= cached.published_at


def offer(items: Iterable[NewsScore | NewsItem]) -> None:
    """Put scores into the cache unless it holds a newer one for the code (breaking news, pushed items)."""
    ttl = _cache_ms()
    try:
        client = _redis()
        for item in items:
            key = _score_key(item.code)
            if _newer(item, _decode(client.get(key))):
                client.set(key, _encode(_as_score(item)), px=ttl)
    except redis.RedisError as exc:
        log.warning("news: cannot update the score cache (%s)", exc)


async def aoffer(items: Iterable[NewsScore | NewsItem]) -> None:
    ttl = _cache_ms()
    try:
        client = _aclients()["redis"]
        for item in items:
            key = _score_key(item.code)
            if _newer(item, _decode(await client.get(key))):
                await client.set(key, _encode(_as_score(item)), px=ttl)
    except redis.RedisError as exc:
        log.warning("news: cannot update the score cache (%s)", exc)


def _as_score(item: NewsScore | NewsItem) -> NewsScore:
    if isinstance(item, NewsScore):
        return item
    return NewsScore(item.code, item.score, item.headline, item.source, item.published_at)


# ------------------------------------------------------------------------------------------ breaker
def _state(status: str, message: str) -> bytes:
    return orjson.dumps({"status": status, "message": message, "at": datetime.now(UTC).isoformat()})


def _breaker_open() -> bool:
    return time.monotonic() < _open_until


def _trip_local() -> None:
    global _open_until
    _open_until = time.monotonic() + _retry_after()
    _state_memo.clear()


def _unavailable(reason: str) -> NewsUnavailable:
    return NewsUnavailable(f"news service unavailable (fail closed): {reason}")


def _check_sync() -> None:
    if _breaker_open():
        raise _unavailable("retrying later")
    try:
        reason = _redis().get(_breaker_key())
    except redis.RedisError:
        return  # the local breaker still protects this process
    if reason is not None:
        raise _unavailable(reason.decode(errors="replace"))


def _trip_sync(reason: str) -> None:
    if not _breaker_open():
        log.warning(
            "news: service %s failed (%s); not calling it for %.0f s (news filter fails closed)",
            service_url(),
            reason,
            _retry_after(),
        )
    _trip_local()
    try:
        client = _redis()
        client.set(_breaker_key(), reason, px=int(_retry_after() * 1000))
        client.set(_state_key(), _state("down", reason), ex=86_400)
    except redis.RedisError:
        pass


async def _check_async() -> None:
    if _breaker_open():
        raise _unavailable("retrying later")
    try:
        reason = await _aclients()["redis"].get(_breaker_key())
    except redis.RedisError:
        return
    if reason is not None:
        raise _unavailable(reason.decode(errors="replace"))


async def _trip_async(reason: str) -> None:
    if not _breaker_open():
        log.warning(
            "news: service %s failed (%s); not calling it for %.0f s (news filter fails closed)",
            service_url(),
            reason,
            _retry_after(),
        )
    _trip_local()
    try:
        client = _aclients()["redis"]
        await client.set(_breaker_key(), reason, px=int(_retry_after() * 1000))
        await client.set(_state_key(), _state("down", reason), ex=86_400)
    except redis.RedisError:
        pass


# ------------------------------------------------------------------------------------------ calls
class _ServiceError(Exception):
    pass


def _read(response: httpx.Response, code: str) -> NewsScore | None:
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise _ServiceError(f"HTTP {response.status_code}")
    try:
        score = parse_news_score(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        raise _ServiceError("reply is not JSON") from None
    except InvalidNews as exc:
        raise _ServiceError(f"bad reply: {exc}") from None
    if score.code != code:
        raise _ServiceError(f"reply is for {score.code}, asked {code}")
    return score


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _ServiceError) else type(exc).__name__


def get_score(code: str) -> NewsScore | None:
    """The stock's current score (None: the service has no news for it). Raises `NewsUnavailable` when
    the service cannot be reached (or is not configured) and nothing fresh is cached."""
    code = parse_code(code)
    key = _score_key(code)
    try:
        cached = _decode(_redis().get(key))
    except redis.RedisError:
        cached = _MISS
    if cached is not _MISS:
        return cached  # type: ignore[return-value]
    score = _fetch(code)
    with contextlib.suppress(redis.RedisError):
        _redis().set(key, _encode(score), px=_cache_ms())
    return score


def _fetch(code: str) -> NewsScore | None:
    """One call to the service, through the breaker; records the outcome for the health line."""
    base = service_url()
    if not base:
        raise NewsUnavailable("news service not configured (fail closed)")
    _check_sync()
    try:
        response = _http().get(f"{base}/news/score", params={"code": code}, timeout=_timeout())
        score = _read(response, code)
    except (httpx.HTTPError, _ServiceError) as exc:
        _trip_sync(_reason(exc))
        raise _unavailable(_reason(exc)) from exc
    with contextlib.suppress(redis.RedisError):
        _redis().set(_state_key(), _state("ok", base), ex=86_400)
    _state_memo.clear()
    return score


async def aget_score(code: str) -> NewsScore | None:
    """`get_score` for the event loop (httpx.AsyncClient, redis.asyncio): never blocks the loop longer
    than NEWS_TIMEOUT_SECONDS."""
    code = parse_code(code)
    key = _score_key(code)
    clients = _aclients()
    try:
        cached = _decode(await clients["redis"].get(key))
    except redis.RedisError:
        cached = _MISS
    if cached is not _MISS:
        return cached  # type: ignore[return-value]
    base = service_url()
    if not base:
        raise NewsUnavailable("news service not configured (fail closed)")
    await _check_async()
    try:
        response = await clients["http"].get(
            f"{base}/news/score", params={"code": code}, timeout=_timeout()
        )
        score = _read(response, code)
    except (httpx.HTTPError, _ServiceError) as exc:
        await _trip_async(_reason(exc))
        raise _unavailable(_reason(exc)) from exc
    except asyncio.CancelledError:
        # The caller gave up waiting (e.g. `asyncio.wait_for` shorter than NEWS_TIMEOUT_SECONDS): a service
        # that slow counts as down, or every later caller would wait the same in vain.
        _trip_local()
        asyncio.get_running_loop().create_task(_trip_async("too slow (the caller gave up)"))
        raise
    try:
        await clients["redis"].set(key, _encode(score), px=_cache_ms())
        await clients["redis"].set(_state_key(), _state("ok", base), ex=86_400)
    except redis.RedisError:
        pass
    _state_memo.clear()
    return score


# ------------------------------------------------------------------------------------------ health
def news_state(*, probe: bool = False) -> tuple[str, str]:
    """(state, message) for the health page: `ok`, `unavailable` (fail closed), `not_configured` or
    `unknown` (no call yet). With `probe` and no open breaker the service is asked once (a score read of
    PROBE_CODE; the cache is not touched)."""
    base = service_url()
    if not base:
        return "not_configured", "not configured"
    memo = _state_memo.get(base)
    if not probe and memo is not None and time.monotonic() < memo[0]:
        return memo[1]  # the status strip on every page: one Redis read per process per second
    try:
        reason, raw = _redis().mget(_breaker_key(), _state_key())
    except redis.RedisError as exc:
        return "unknown", f"state unreadable: {type(exc).__name__}"
    answer = _news_state(base, reason, raw, probe=probe)
    _state_memo[base] = (time.monotonic() + 1.0, answer)
    return answer


_state_memo: dict[str, tuple[float, tuple[str, str]]] = {}


def _news_state(
    base: str, reason: bytes | None, raw: bytes | None, *, probe: bool
) -> tuple[str, str]:
    if reason is not None or _breaker_open():
        why = reason.decode(errors="replace") if reason is not None else "retrying later"
        return "unavailable", f"unavailable (fail closed): {why}"
    if probe:
        try:
            _fetch(PROBE_CODE)  # the cache is left alone: it may hold a newer breaking score
        except NewsUnavailable as exc:
            return "unavailable", str(exc).replace("news service unavailable", "unavailable")
        return "ok", base
    state = orjson.loads(raw) if raw else {}
    if state.get("status") == "ok":
        return "ok", base
    if state.get("status") == "down":
        return "unknown", f"last call failed: {state.get('message', '')}"
    return "unknown", "no call yet"
