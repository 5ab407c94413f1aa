"""Writes of the news app: storing items (idempotent on the dedupe key) and importing a day's history."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import httpx
import orjson
import redis
from django.conf import settings
from django.db import transaction

from apps.core.rediskeys import redis_key

from .contract import NewsItem as NewsItemData
from .contract import NewsUnavailable
from .models import NewsItem, NewsOrigin, dedupe_key
from .parsing import InvalidNews, parse_news_item

log = logging.getLogger(__name__)


@dataclass
class StoreResult:
    created: list[NewsItem] = field(default_factory=list)
    duplicates: list[NewsItem] = field(default_factory=list)


def news_channel() -> str:
    """The breaking-news pub/sub channel of this installation (REDIS_KEY_PREFIX + NEWS_CHANNEL)."""
    return redis_key(settings.NEWS_CHANNEL)


def news_store(
    items: Sequence[NewsItemData], origin: str, *, publish: bool = False, cache: bool = True
) -> StoreResult:
    """Store items in one transaction; an item already stored (same code, time, source and headline) is
    not stored again. After the commit the new scores go to the score cache (unless `cache` is false: a
    past day's import must not stand for today's scores) and, with `publish`, the new items to the
    breaking-news channel (so the realtime process's subscribers see pushed items too)."""
    if origin not in NewsOrigin.values:
        raise ValueError(f"unknown origin {origin!r}")
    result = StoreResult()
    with transaction.atomic():
        for item in items:
            row, created = NewsItem.objects.get_or_create(
                dedupe_key=dedupe_key(item.code, item.published_at, item.source, item.headline),
                defaults={
                    "code": item.code,
                    "score": item.score,
                    "headline": item.headline,
                    "source": item.source,
                    "published_at": item.published_at,
                    "url": item.url,
                    "origin": origin,
                },
            )
            (result.created if created else result.duplicates).append(row)
        new = [row.as_item() for row in result.created]
        if new and (cache or publish):
            transaction.on_commit(lambda: _after_store(new, cache=cache, publish=publish))
    return result


def _after_store(items: list[NewsItemData], *, cache: bool, publish: bool) -> None:
    from .scores import offer

    if cache:
        offer(items)
    if publish:
        news_publish(items)


def news_publish(items: Sequence[NewsItemData]) -> int:
    """Publish items on the breaking-news channel (the channel's JSON schema); a Redis failure is logged,
    not raised (the items are stored; the cache has them)."""
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        with client:
            for item in items:
                client.publish(news_channel(), orjson.dumps(item_as_json(item)))
    except redis.RedisError as exc:
        log.warning("news: cannot publish %d item(s) on the channel (%s)", len(items), exc)
        return 0
    return len(items)


def item_as_json(item: NewsItemData) -> dict[str, object]:
    out: dict[str, object] = {
        "code": item.code,
        "score": item.score,
        "headline": item.headline,
        "source": item.source,
        "published_at": item.published_at.isoformat(),
    }
    if item.url:
        out["url"] = item.url
    return out


@dataclass(frozen=True)
class ImportResult:
    day: date
    received: int
    created: int
    source: str


def news_import_day(day: date, base_url: str | None = None) -> ImportResult:
    """Import a day's news history from the source (`GET {url}/news/items?date=YYYYMMDD`, the bundled
    simulator's by default), for backtests. All or nothing: one bad item stores none. Raises
    `NewsUnavailable` when the source cannot be reached, `InvalidNews` when its reply is wrong."""
    from .scores import service_url

    base = (base_url or service_url()).rstrip("/")
    if not base:
        raise NewsUnavailable("news service not configured")
    try:
        response = httpx.get(
            f"{base}/news/items", params={"date": day.strftime("%Y%m%d")}, timeout=30.0
        )
    except httpx.HTTPError as exc:
        raise NewsUnavailable(f"{base}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise NewsUnavailable(f"{base}: HTTP {response.status_code} {response.text[:200]}")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise InvalidNews("(reply)", "not JSON") from None
    rows = body.get("items") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise InvalidNews("items", "a list is required")
    items = []
    for i, row in enumerate(rows):
        try:
            items.append(parse_news_item(row))
        except InvalidNews as exc:
            raise InvalidNews(f"items[{i}].{exc.field}", exc.reason) from None
    simulated = not settings.NEWS_SERVICE_URL and base_url is None
    origin = NewsOrigin.SIM if simulated else NewsOrigin.SERVICE
    result = news_store(items, origin, cache=False)
    return ImportResult(day, len(items), len(result.created), base)
