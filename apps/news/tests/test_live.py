"""The breaking-news subscriber with a real Redis publish: good items are stored, cached and handed on;
malformed ones are logged with the reason and dropped; the realtime handler runs it and feeds
`apps.news.live.subscribers`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.news import live, scores
from apps.news.contract import NewsItem
from apps.news.models import NewsItem as NewsRow
from apps.news.models import NewsOrigin
from apps.news.realtime_handlers import BreakingNewsHandler
from apps.news.services import news_channel

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = {
    "code": "005930",
    "score": 82,
    "headline": "삼성전자, 신규 수주",
    "source": "wire",
    "published_at": "2025-01-15T09:12:00+09:00",
    "url": "https://news.example/1",
}


async def _publish(*messages: bytes | str) -> None:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    async with client:
        for message in messages:
            await client.publish(news_channel(), message)


async def _close_db() -> None:
    """The listener wrote through the hub's database thread: close its connection (as the hub does at
    shutdown) so the test database can be dropped."""
    from django import db

    await sync_to_async(db.connections.close_all)()


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true")


async def test_items_on_the_channel_are_stored_cached_and_handed_on(dead_url, settings, caplog):
    settings.NEWS_SERVICE_URL = dead_url  # the cache alone must answer
    got: list[NewsItem] = []

    async def on_item(item: NewsItem) -> None:
        got.append(item)

    stop, subscribed, stats = asyncio.Event(), asyncio.Event(), live.ListenerStats()
    task = asyncio.create_task(live.listen(on_item, stop=stop, stats=stats, subscribed=subscribed))
    await asyncio.wait_for(subscribed.wait(), 10)
    caplog.set_level(logging.WARNING, logger="apps.news.live")

    await _publish(
        orjson.dumps(GOOD),
        b"not json at all",
        orjson.dumps({**GOOD, "score": 101}),
        orjson.dumps({**GOOD, "published_at": "2025-01-15T09:12:00"}),
        orjson.dumps({k: v for k, v in GOOD.items() if k != "headline"}),
        orjson.dumps([1, 2]),
        orjson.dumps(GOOD),  # the same item again: stored once
    )
    await _until(lambda: stats.received == 7)
    stop.set()
    await asyncio.wait_for(task, 5)

    assert stats.dropped == 5 and stats.stored == 1 and stats.duplicates == 1
    assert [i.score for i in got] == [82, 82]
    assert got[0] == NewsItem(
        "005930",
        82,
        GOOD["headline"],
        "wire",
        datetime(2025, 1, 15, 0, 12, tzinfo=UTC),
        GOOD["url"],
    )
    rows = await sync_to_async(list)(NewsRow.objects.all())
    assert [(r.code, r.score, r.origin) for r in rows] == [("005930", 82, NewsOrigin.CHANNEL)]
    cached = await scores.aget_score("005930")
    assert cached is not None and cached.score == 82
    reasons = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(reasons) == 5
    for text in (
        "not JSON",
        "score: 101 is outside 0-100",
        "has no UTC offset",
        "headline: this field is required",
        "a JSON object is required",
    ):
        assert any(text in r for r in reasons), text
    await _close_db()


async def test_a_failing_callback_does_not_stop_the_listener():
    calls = 0

    def on_item(item: NewsItem) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("strategy bug")

    stop, subscribed, stats = asyncio.Event(), asyncio.Event(), live.ListenerStats()
    task = asyncio.create_task(live.listen(on_item, stop=stop, stats=stats, subscribed=subscribed))
    await asyncio.wait_for(subscribed.wait(), 10)
    await _publish(orjson.dumps(GOOD), orjson.dumps({**GOOD, "headline": "second"}))
    await _until(lambda: stats.received == 2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert calls == 2 and stats.errors == 2 and stats.stored == 2
    await _close_db()


async def test_redis_down_is_retried_not_raised(caplog):
    stop = asyncio.Event()
    stats = live.ListenerStats()
    task = asyncio.create_task(
        live.listen(None, stop=stop, stats=stats, redis_url="redis://127.0.0.1:1/0")
    )
    await _until(lambda: any("retrying" in r.getMessage() for r in caplog.records))
    stop.set()
    await asyncio.wait_for(task, 5)
    assert stats.connections == 0


async def test_the_realtime_handler_feeds_the_subscribers(monkeypatch):
    got: list[NewsItem] = []
    seen_async: list[str] = []

    async def strategy(item: NewsItem) -> None:
        seen_async.append(item.code)

    def broken(item: NewsItem) -> None:
        raise ValueError("bad subscriber")

    monkeypatch.setattr(live, "subscribers", [got.append, broken, strategy])
    handler = BreakingNewsHandler()
    await handler.on_start(None)  # type: ignore[arg-type] - the handler does not read the context
    await asyncio.wait_for(handler.subscribed.wait(), 10)
    await _publish(orjson.dumps(GOOD))
    await _until(lambda: handler.stats.received == 1)
    await handler.on_stop()

    assert handler.task is not None and handler.task.done()
    assert [i.code for i in got] == ["005930"] and seen_async == ["005930"]
    assert handler.health()["stored"] == 1 and handler.health()["errors"] == 1
    await _close_db()


def test_the_handler_is_registered():
    from apps.realtime.handlers import HubContext, factories

    factory = factories()["news.breaking"]
    assert isinstance(factory(HubContext(broker=None)), BreakingNewsHandler)  # type: ignore[arg-type]
    assert factory(HubContext(broker=None, options={"news": False})) is None  # type: ignore[arg-type]


async def test_the_hub_runs_the_listener_while_it_runs(monkeypatch):
    """The realtime hub (in-memory broker) with the registered `news.breaking` factory: a published item
    is stored and reaches the subscribers while the hub runs; stopping the hub stops the listener."""
    from apps.broker.backends.memory import MemoryBroker
    from apps.realtime.handlers import factories
    from apps.realtime.hub import Hub

    got: list[NewsItem] = []
    monkeypatch.setattr(live, "subscribers", [got.append])
    hub = Hub(
        MemoryBroker(),
        handlers={"news.breaking": factories()["news.breaking"]},
        resync_seconds=60,
        heartbeat_seconds=60,
    )
    run = asyncio.create_task(hub.run())
    await asyncio.wait_for(hub.ready.wait(), 10)
    handler = hub.handler("news.breaking")
    await asyncio.wait_for(handler.subscribed.wait(), 10)
    await _publish(orjson.dumps(GOOD))
    await _until(lambda: len(got) == 1)
    hub.stop()
    await asyncio.wait_for(run, 15)

    assert handler.task.done()
    assert await sync_to_async(NewsRow.objects.filter(code="005930").count)() == 1
    assert hub.details()["handlers"]["news.breaking"]["stored"] == 1
    await _close_db()
