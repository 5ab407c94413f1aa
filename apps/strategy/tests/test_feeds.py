"""The adapters to the other parts of issue 15 (`apps/strategy/feeds.py`): each falls back to "nothing there"
without its provider, and passes the provider's answer through when it is installed (the integrator's switch)."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import pytest

from apps.news.contract import NewsItem, NewsScore, NewsUnavailable
from apps.strategy import engine as engine_pkg
from apps.strategy import feeds
from apps.strategy.engine.runner import Engine

from .support import DAY, FirstTickBuyer, at, settings_of

PROVIDERS = (
    "apps.strategy.selectors",
    "apps.strategy.scanner",
    "apps.news.live",
    "apps.news.scores",
)


def install(monkeypatch, name: str, **attrs: Any) -> None:  # type: ignore[no-untyped-def]
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_without_providers_everything_is_empty(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in PROVIDERS:
        monkeypatch.setitem(sys.modules, name, None)  # "not installed"
    monkeypatch.delattr(engine_pkg, "build_engine", raising=False)
    assert feeds.active_settings() == {}
    built = feeds.build_engine({"x": settings_of("x")})
    assert isinstance(built, Engine) and built.strategies == []
    assert feeds.latest_candidates() == []
    unsubscribe = feeds.news_subscribe(lambda item: None)
    unsubscribe()
    assert asyncio.run(feeds.aget_news_score("005930")) is None


def test_installed_providers_are_used(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    found = {"first_tick": settings_of("first_tick")}
    install(monkeypatch, "apps.strategy.selectors", active_settings=lambda: found)
    monkeypatch.setattr(
        engine_pkg,
        "build_engine",
        lambda s: Engine([FirstTickBuyer(s["first_tick"])]),
        raising=False,
    )
    install(monkeypatch, "apps.strategy.scanner", latest_candidates=lambda: ["a candidate"])
    subscribers: list[Any] = []
    install(monkeypatch, "apps.news.live", subscribers=subscribers)

    async def aget_score(code: str) -> NewsScore | None:
        if code == "down":
            raise NewsUnavailable("service down")
        if code == "slow":
            await asyncio.sleep(5)
        return NewsScore(code, 83, "수주", "test", at("09:00:00")) if code == "005930" else None

    install(monkeypatch, "apps.news.scores", aget_score=aget_score)
    assert feeds.active_settings() == found
    assert [s.name for s in feeds.build_engine(found).strategies] == ["first_tick"]
    assert feeds.latest_candidates() == ["a candidate"]

    def callback(item: Any) -> None:
        return None

    unsubscribe = feeds.news_subscribe(callback)
    assert subscribers == [callback]
    unsubscribe()
    assert subscribers == []
    assert asyncio.run(feeds.aget_news_score("005930")) == 83
    assert asyncio.run(feeds.aget_news_score("000660")) is None
    assert asyncio.run(feeds.aget_news_score("down")) is None  # fail closed
    assert asyncio.run(feeds.aget_news_score("slow")) is None  # never holds the order path


def test_a_news_item_becomes_a_news_event() -> None:
    item = NewsItem("005930", 91, "수주 공시", "stocknews", at("09:06:00"), "https://x")
    event = feeds.news_event(item)
    assert (event.code, event.at, event.score, event.headline, event.source) == (
        "005930",
        at("09:06:00"),
        91,
        "수주 공시",
        "stocknews",
    )


@pytest.mark.django_db
def test_latest_scan_meta_without_a_scan_table_is_none() -> None:
    from apps.strategy import models

    if hasattr(models, "ScanSnapshot"):
        pytest.skip("the scanner's table is installed: its own tests cover it")
    assert feeds.latest_scan_meta() is None
    assert DAY  # the support module's day (keeps the import honest)


def test_the_scan_channel_is_a_prefixed_key() -> None:
    from apps.core.rediskeys import redis_key

    assert feeds.scan_channel() == redis_key("strategy", "scan")


@pytest.mark.django_db
def test_the_real_providers_are_switched_on() -> None:
    """Every adapter reaches its provider on main (none falls back): the seeded strategies are built,
    the scanner and the news app answer."""
    from apps.news.live import subscribers
    from apps.strategy.engine.runner import Engine

    engine = feeds.build_engine(feeds.active_settings())
    assert isinstance(engine, Engine)
    assert {s.name for s in engine.strategies} == {"opening_breakout", "condition_entry"}
    assert feeds.latest_candidates() == []  # no scan yet, but the scanner's selector ran
    unsubscribe = feeds.news_subscribe(lambda item: None)
    assert len(subscribers) >= 1
    unsubscribe()
