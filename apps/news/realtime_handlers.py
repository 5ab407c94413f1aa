"""The `news.breaking` handler of the realtime hub: runs the breaking-news listener (apps.news.live) while
the hub runs. Each item is stored, its score cached, and handed to every callable in
`apps.news.live.subscribers` (the strategy engine appends its own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from apps.realtime.handlers import Handler, HubContext, register

from . import live
from .contract import NewsItem

log = logging.getLogger(__name__)


class BreakingNewsHandler(Handler):
    name = "news.breaking"
    events = ()  # no broker events: the handler only owns the listener task

    def __init__(self) -> None:
        self.stats = live.ListenerStats()
        self.stop = asyncio.Event()
        self.subscribed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def on_start(self, ctx: HubContext) -> None:
        if self.task is None:
            self.task = asyncio.create_task(
                live.listen(
                    self.fan_out, stop=self.stop, stats=self.stats, subscribed=self.subscribed
                ),
                name="news-breaking",
            )

    async def fan_out(self, item: NewsItem) -> None:
        for subscriber in list(live.subscribers):
            try:
                await live._call(subscriber, item)
            except Exception:
                self.stats.errors += 1
                log.exception("news: subscriber %r failed on %s", subscriber, item.code)

    async def on_stop(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self.task, 5)

    def health(self) -> dict[str, Any]:
        return self.stats.as_dict()


def breaking_news(ctx: HubContext) -> BreakingNewsHandler | None:
    if ctx.options.get("news") is False:
        return None
    return BreakingNewsHandler()


register("news.breaking", breaking_news)
