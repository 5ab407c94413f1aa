"""Handlers for the hub's tests and benchmark: recording, raising, blocked and slow ones."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from apps.broker.contract import ConditionEvent, ConditionHit, Tick
from apps.realtime.handlers import Asked, Handler, HubContext, Wants


class Recorder(Handler):
    """Takes the ticks of `codes` (and the conditions `seqs`) and keeps what arrived, with the
    monotonic time it arrived at."""

    events = (Tick, ConditionEvent)

    def __init__(
        self, codes: frozenset[str] = frozenset({"005930"}), seqs: frozenset[str] = frozenset()
    ) -> None:
        self.codes = codes
        self.seqs = seqs
        self.got: list[Any] = []
        self.arrived: list[float] = []
        self.gaps: list[str] = []
        self.subscribed: list[tuple[str, list[ConditionHit]]] = []
        self.started = False
        self.stopped_with = -1

    async def on_start(self, ctx: HubContext) -> None:
        self.started = True

    async def wants(self) -> Wants:
        return Wants(ticks=self.codes, conditions=self.seqs)

    def on_event(self, event: Any) -> None:
        self.arrived.append(time.monotonic())
        self.got.append(event)

    async def on_subscribed(self, seq: str, hits: list[ConditionHit], asked: Asked) -> None:
        self.subscribed.append((seq, hits))

    async def on_gap(self, reason: str) -> None:
        self.gaps.append(reason)

    async def on_stop(self) -> None:
        self.stopped_with = len(self.got)


class Raiser(Recorder):
    """Fails on every event and every hook it can."""

    def on_event(self, event: Any) -> None:
        super().on_event(event)
        raise RuntimeError("handler bug")

    async def on_cycle(self) -> None:
        raise RuntimeError("hook bug")


class Blocked(Recorder):
    """Stuck on its first event until `release` is set (a handler that hangs on the database, say)."""

    queue_size = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()

    async def on_event(self, event: Any) -> None:
        await self.release.wait()
        super().on_event(event)


class Sleeper(Recorder):
    """Sleeps `delay` seconds per event (asynchronously: it waits, it does not block the loop)."""

    def __init__(self, *args: Any, delay: float = 0.05, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay = delay

    async def on_event(self, event: Any) -> None:
        await asyncio.sleep(self.delay)
        super().on_event(event)
