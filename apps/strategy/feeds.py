"""The strategy handler's adapters to modules other parts of issue 15 provide: ONE place to switch on.

The realtime `strategy.engine` handler (`realtime_handlers.py`) and the signal executor (`execution.py`)
reach the strategy configuration, the engine's builder, the opening scanner and the news app only through
the functions below. Each imports its provider lazily and falls back to "nothing there" when the provider
is not installed (an `ImportError` of exactly that module), so this branch runs and is tested without them:

| adapter | provider (module: name) | fallback |
|---|---|---|
| `active_settings()` | `apps.strategy.selectors: active_settings() -> dict[str, StrategySettings]` | `{}` |
| `build_engine(settings)` | `apps.strategy.engine: build_engine(settings) -> Engine` | an `Engine` without strategies |
| `latest_candidates()` | `apps.strategy.scanner: latest_candidates() -> list[Candidate]` | `[]` |
| `latest_scan_meta()` | `apps.strategy.models: ScanSnapshot` (its latest row's `id` and exchange time: the first of the fields `at`, `taken_at`, `scanned_at`, `created_at` it has) | `None` |
| `scan_channel()` | the scanner's Redis pub/sub channel, `redis_key("strategy", "scan")`, JSON `{snapshot_id, at}` | - |
| `news_subscribe(cb)` | `apps.news.live: subscribers` (a list of callables taking a `NewsItem`) | no-op |
| `aget_news_score(code)` | `apps.news.scores: aget_score(code) -> NewsScore | None` | `None` |

A provider that exists but raises is logged by the caller and treated as the fallback (fail closed: no
news score means no news-dependent entry). Tests replace these functions with `monkeypatch`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from types import ModuleType
from typing import Any

from apps.core.rediskeys import redis_key

from .engine.base import StrategySettings
from .engine.events import Candidate, NewsEvent
from .engine.runner import Engine

log = logging.getLogger(__name__)

NEWS_SCORE_TIMEOUT_SECONDS = 0.5  # the order path waits no longer for a news score
SCAN_TIME_FIELDS = ("at", "taken_at", "scanned_at", "created_at")  # ScanSnapshot's exchange time

__all__ = [
    "active_settings",
    "aget_news_score",
    "build_engine",
    "latest_candidates",
    "latest_scan_meta",
    "news_event",
    "news_subscribe",
    "scan_channel",
]


def _provider(module: str) -> ModuleType | None:
    """The module, or None when it is not installed (only its own absence counts: an import error
    inside an existing module is a bug and is raised)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise


# --------------------------------------------------------------------------------- configuration
def active_settings() -> dict[str, StrategySettings]:
    """Every strategy's active configuration by name (database: call it in a thread)."""
    selectors = _provider("apps.strategy.selectors")
    fn = getattr(selectors, "active_settings", None)
    return dict(fn()) if fn is not None else {}


def build_engine(settings: Mapping[str, StrategySettings]) -> Engine:
    """The engine with the built-in strategies configured by `settings`."""
    from . import engine as engine_pkg

    fn = getattr(engine_pkg, "build_engine", None)
    return fn(dict(settings)) if fn is not None else Engine([])


# --------------------------------------------------------------------------------- the scanner
def scan_channel() -> str:
    return redis_key("strategy", "scan")


def latest_candidates() -> list[Candidate]:
    """The latest scanner run's candidates, best first (database: call it in a thread)."""
    scanner = _provider("apps.strategy.scanner")
    fn = getattr(scanner, "latest_candidates", None)
    return list(fn()) if fn is not None else []


def latest_scan_meta() -> tuple[int, datetime] | None:
    """(snapshot id, exchange time) of the latest scanner run, or None (database: in a thread)."""
    from . import models

    snapshot = getattr(models, "ScanSnapshot", None)
    if snapshot is None:
        return None
    names = {f.name for f in snapshot._meta.get_fields()}
    at = next((n for n in SCAN_TIME_FIELDS if n in names), None)
    if at is None:
        return None
    row = snapshot.objects.order_by(f"-{at}", "-id").values_list("id", at).first()
    return (int(row[0]), row[1]) if row else None


# --------------------------------------------------------------------------------- news
def news_subscribe(callback: Callable[[Any], None]) -> Callable[[], None]:
    """Register `callback` for breaking-news items in this process; returns the unsubscribe call."""
    live = _provider("apps.news.live")
    subscribers = getattr(live, "subscribers", None)
    if subscribers is None:
        return lambda: None
    subscribers.append(callback)

    def unsubscribe() -> None:
        if callback in subscribers:
            subscribers.remove(callback)

    return unsubscribe


def news_event(item: Any) -> NewsEvent:
    """A `apps.news.contract.NewsItem` as the engine's event (time: the item's publication)."""
    return NewsEvent(
        code=item.code,
        at=item.published_at,
        score=int(item.score),
        headline=getattr(item, "headline", "") or "",
        source=getattr(item, "source", "") or "",
    )


async def aget_news_score(code: str) -> int | None:
    """The stock's current news score 0–100, or None (no news, service down, too slow: fail closed)."""
    scores = _provider("apps.news.scores")
    fn = getattr(scores, "aget_score", None)
    if fn is None:
        return None
    try:
        found = await asyncio.wait_for(fn(code), NEWS_SCORE_TIMEOUT_SECONDS)
    except Exception as exc:  # NewsUnavailable, a timeout: the order goes without a score
        log.info("strategy: no news score for %s (%s)", code, exc)
        return None
    return int(found.score) if found is not None else None
