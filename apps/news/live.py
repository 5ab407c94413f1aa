"""The breaking-news subscriber: the Redis pub/sub channel `news_breaking_kr` → stored items, fresh cached
scores and a callback, at once.

`listen(on_item, stop=...)` runs until `stop` is set, reconnecting to Redis with backoff; the realtime
process runs it as the `news.breaking` handler (realtime_handlers.py), whose callback calls every function
in `subscribers`: an app that wants breaking news appends a callable taking a `NewsItem` (plain or async)
to `apps.news.live.subscribers` instead of running a second listener. A malformed message is logged with
the reason and dropped; nothing a message or a callback does stops the listener.

The message (README: "News"): a JSON object `{code, score, headline, source, published_at, url?}`;
`published_at` is ISO 8601 with a UTC offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

from .contract import NewsItem
from .parsing import InvalidNews, parse_news_item

log = logging.getLogger(__name__)

Subscriber = Callable[[NewsItem], Awaitable[None] | None]
# Called (in order, each guarded) with every item the realtime process's listener receives.
subscribers: list[Subscriber] = []

MAX_MESSAGE_BYTES = 64 * 1024
RECONNECT_MAX_SECONDS = 30.0


@dataclass
class ListenerStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped: int = 0  # malformed messages
    errors: int = 0  # storage or callback failures
    connections: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def decode_message(data: Any) -> NewsItem:
    """One channel message → a `NewsItem`, or `InvalidNews` saying which field is wrong and why."""
    if isinstance(data, str):
        data = data.encode()
    if not isinstance(data, bytes | bytearray):
        raise InvalidNews("(message)", "not a text message")
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidNews("(message)", f"larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidNews("(message)", "not JSON") from None
    return parse_news_item(payload)


async def _call(fn: Subscriber, item: NewsItem) -> None:
    result = fn(item)
    if inspect.isawaitable(result):
        await result


async def handle_message(
    data: Any,
    on_item: Subscriber | None,
    *,
    store: bool = True,
    stats: ListenerStats | None = None,
) -> NewsItem | None:
    """Decode, store, cache, call back. Returns the item (None when the message was dropped)."""
    from apps.realtime.handlers import db_call

    from .models import NewsOrigin
    from .scores import aoffer
    from .services import news_store

    stats = stats or ListenerStats()
    stats.received += 1
    try:
        item = decode_message(data)
    except InvalidNews as exc:
        stats.dropped += 1
        preview = data[:120] if isinstance(data, bytes | str) else type(data).__name__
        log.warning("news channel: dropped a malformed message (%s): %r", exc, preview)
        return None
    if store:
        try:
            result = await db_call(news_store, [item], NewsOrigin.CHANNEL, cache=False)
            stats.stored += len(result.created)
            stats.duplicates += len(result.duplicates)
        except Exception:
            # The item still counts for trading (cache, callback); only its row is missing.
            stats.errors += 1
            log.exception("news channel: could not store %s %s", item.code, item.published_at)
    await aoffer([item])
    if on_item is not None:
        try:
            await _call(on_item, item)
        except Exception:
            stats.errors += 1
            log.exception("news channel: the callback failed on %s", item.code)
    return item


async def listen(
    on_item: Callable[[NewsItem], Awaitable[None]] | None,
    *,
    stop: asyncio.Event,
    redis_url: str | None = None,
    channel: str | None = None,
    store: bool = True,
    stats: ListenerStats | None = None,
    subscribed: asyncio.Event | None = None,
) -> None:
    """Until `stop` is set: receive the channel's messages and `handle_message` each. Redis down or gone
    away: reconnect after 0.5, 1, 2 ... 30 s. `subscribed` is set once the subscription is in place."""
    from .services import news_channel

    url = redis_url or settings.REDIS_URL
    name = channel or news_channel()
    stats = stats or ListenerStats()
    attempt = 0
    while not stop.is_set():
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=15
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(name)
            stats.connections += 1
            attempt = 0
            log.info("news channel: listening on %s", name)
            if subscribed is not None:
                subscribed.set()
            while not stop.is_set():
                message = await pubsub.get_message(timeout=0.5)
                if message is not None and message.get("type") == "message":
                    await handle_message(message["data"], on_item, store=store, stats=stats)
        except (redis.RedisError, OSError) as exc:
            attempt += 1
            delay = min(RECONNECT_MAX_SECONDS, 0.5 * 2 ** (attempt - 1))
            log.warning("news channel: Redis unavailable (%s); retrying in %.1f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()
