"""The minute-bars handler of the realtime hub (`apps.realtime`): 0B ticks → `LiveBars` → `MinuteBar` rows.

Wants the ticks of `REALTIME_TICK_CODES` (or the hub's `tick_codes` option, `run_realtime --ticks`),
feeds each `Tick` into `market.live.LiveBars`, and every cycle closes the bars whose minute is over and
writes the completed ones (idempotent upserts, source `live`), each then pushed as `bar_update` to
/ws/live for the chart pages. At shutdown the open bars are closed by the clock and written.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings

from apps.broker.backends import exchange_now
from apps.broker.contract import Tick
from apps.realtime.handlers import Handler, HubContext, Wants, db_call, register

from .live import LiveBars


class MinuteBarsHandler(Handler):
    name = "market.bars"
    events = (Tick,)
    # A busy session pushes thousands of 0B frames a second; on_trade is cheap, so this rarely fills.
    queue_size = 100_000

    def __init__(self, codes: list[str]) -> None:
        self.codes = frozenset(codes)
        self.bars = LiveBars()
        self.ticks = 0
        self.written = 0

    async def wants(self) -> Wants:
        return Wants(ticks=self.codes)

    def on_event(self, event: Tick) -> None:
        self.ticks += 1
        self.bars.on_trade(event)

    async def on_cycle(self) -> None:
        await self._write()

    async def on_stop(self) -> None:
        await self._write()

    async def _write(self) -> None:
        # The simulator's clock may take an HTTP request: never on the event loop.
        self.bars.on_clock(await asyncio.to_thread(exchange_now))
        result = await db_call(self.bars.flush)
        self.written += getattr(result, "rows", 0) or 0

    def health(self) -> dict[str, Any]:
        return {"ticks": self.ticks, "bars": self.written}


def minute_bars(ctx: HubContext) -> MinuteBarsHandler | None:
    codes = ctx.options.get("tick_codes")
    codes = list(settings.REALTIME_TICK_CODES if codes is None else codes)
    return MinuteBarsHandler(codes) if codes else None


register("market.bars", minute_bars)
