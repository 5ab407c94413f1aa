"""The handler contract of the realtime hub, and the registry apps add their handlers to.

An app that wants live broker events writes a `Handler` subclass in its own `realtime_handlers.py`
and registers a factory for it:

    from apps.realtime.handlers import Handler, HubContext, Wants, register

    class MinuteBars(Handler):
        name = "market.bars"
        events = (Tick,)

        async def wants(self) -> Wants:
            return Wants(ticks=frozenset({"005930"}))

        async def on_event(self, event: Tick) -> None: ...

    register("market.bars", lambda ctx: MinuteBars())  # HubContext -> Handler, or None: not this run

The registry imports every installed app's `realtime_handlers` module the first time it is used (any of
`register`, `factories`, `registered`, `unregister`), so registering is all an app does; the hub (`apps.realtime.hub`) imports no app. The contract:

- **Events.** `events` lists the typed events of `apps.broker.contract` the handler takes: `Tick` (0B),
  `ConditionEvent` (02), `OrderEvent` (00), `BalanceEvent` (04), `ViEvent` (1h, a volatility
  interruption starting or ending). A `Tick` is delivered only for the codes and a `ConditionEvent` only
  for the conditions the handler's last `wants()` named; a `ViEvent` only for the codes of its `vi` (and,
  with `vi_of_ticks`, for every code some handler wants ticks of: the codes being traded or watched);
  order and balance events go to every handler that lists them. `on_event` runs on the handler's own task, one event at a
  time, in arrival order; it may be `async` or plain. It runs on the event loop: anything that blocks
  (the database, a REST call) goes to a thread (`db_call`, `asyncio.to_thread`).
- **Isolation.** Each handler has its own bounded queue (`queue_size`) and task. The socket's reader only
  puts events on the queues and never waits: when a handler's queue is full the new event is dropped
  for that handler alone and counted (`dropped` in the `realtime` health details); the hub then calls
  its `on_gap("dropped")` in the next cycle so it can re-read what it missed. An exception in any method
  is logged and counted (`errors`); the handler keeps receiving.
- **Subscriptions.** `wants()` (called every cycle, `REALTIME_RESYNC_SECONDS`) declares the tick codes, the
  realtime conditions, the VI codes and whether the account's order/balance events are needed. The hub
  subscribes the union (VI: `vi` of every handler, plus the tick codes when a handler asks `vi_of_ticks`), unsubscribes what nobody wants any more, and keeps it subscribed across reconnects (a condition
  the broker refused to restore is subscribed again). A new realtime condition's initial list goes to
  `on_subscribed(seq, hits, asked)`, a refusal to `on_subscribe_failed(seq, error, asked)`.
- **Lifecycle.** `on_start(ctx)` once the socket is logged in (`ctx.feed` is then the live
  `RealtimeFeed`); `on_gap(reason)` after a reconnect (`"reconnect"`: frames of the gap are lost) or after
  drops (`"dropped"`); `on_cycle()` every cycle (periodic writes, resyncs); `on_stop()` at shutdown, after
  the socket has been closed and the handler's queue drained (5 s at most): flush pending work there (10 s at most).
  `on_gap` and `on_cycle` run on a task of the handler's own, so a slow one delays neither the hub nor
  the other handlers; while it is still running, the handler skips the next cycles (`busy_cycles`).
  `on_start`, `wants` (5 s at most, else the previous answer stands), `on_subscribed` and
  `on_subscribe_failed` run on the hub's control task: keep them short. Hooks may run while `on_event`
  waits on a thread, so state they share is guarded with an `asyncio.Lock` where that matters.
- **Last prices.** `ctx.prices` (`apps.realtime.prices.LastPrices`) holds the recent 0B ticks of every
  code some handler subscribed: `ctx.prices.at_or_before(code, at)` is the last trade at or before an
  exchange time (or None). Read it on the event loop (it is not thread-safe); it is cleared on reconnect.
- **Health.** `health()` returns a small dict of the handler's own figures, shown in the heartbeat.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from asgiref.sync import sync_to_async
from django import db

from apps.broker.contract import Broker, ConditionHit, RealtimeEvent, RealtimeFeed

from .prices import LastPrices

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = [
    "Asked",
    "Handler",
    "HandlerFactory",
    "HubContext",
    "Wants",
    "autodiscover",
    "db_call",
    "factories",
    "register",
    "registered",
    "unregister",
]


@dataclass(frozen=True)
class Wants:
    """What one handler needs subscribed."""

    ticks: frozenset[str] = frozenset()
    conditions: frozenset[str] = frozenset()
    account: bool = False  # 00 order and 04 balance events
    vi: frozenset[str] = frozenset()  # codes whose ViEvent (1h) the handler takes
    vi_of_ticks: bool = False  # and the ViEvent of every code any handler wants ticks of


@dataclass(frozen=True)
class Asked:
    """When a subscription was requested: `at` (UTC) and `exchange_at` (the exchange's clock). A
    condition's initial list is as old as its request, not as its reply."""

    at: datetime
    exchange_at: datetime


@dataclass
class HubContext:
    """What the hub hands to handler factories and hooks. `options` carries per-run settings by name
    (`tick_codes`, `account`, `batch_seconds`, ...): each handler reads its own and ignores the rest."""

    broker: Broker
    options: Mapping[str, Any] = field(default_factory=dict)
    feed: RealtimeFeed | None = None
    prices: LastPrices = field(default_factory=LastPrices)  # the hub's recent ticks per code


class Handler:
    """Base class: every hook is optional. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    events: ClassVar[tuple[type[RealtimeEvent], ...]] = ()
    queue_size: ClassVar[int] = 10_000

    async def on_start(self, ctx: HubContext) -> None:
        return None

    async def wants(self) -> Wants:
        return Wants()

    def on_event(self, event: Any) -> Any:
        return None

    async def on_subscribed(self, seq: str, hits: list[ConditionHit], asked: Asked) -> None:
        return None

    async def on_subscribe_failed(self, seq: str, error: Exception, asked: Asked) -> None:
        return None

    async def on_gap(self, reason: str) -> None:
        return None

    async def on_cycle(self) -> None:
        return None

    async def on_stop(self) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {}


HandlerFactory = Callable[[HubContext], Handler | None]
_registry: dict[str, HandlerFactory] = {}
_discovered = False


def _discover_once() -> None:
    # On first use, not in AppConfig.ready(): the handler modules import heavy libraries (pandas, the
    # exchange calendar) that commands other than run_realtime should not load at start-up. Before any
    # registration, so an app's own registration never replaces one a test made first.
    global _discovered
    if not _discovered:
        _discovered = True
        autodiscover()


def register(name: str, factory: HandlerFactory) -> HandlerFactory:
    """Add (or replace) the handler factory `name`; the hub builds one handler per run from it."""
    _discover_once()
    _registry[name] = factory
    return factory


def unregister(name: str) -> None:
    _discover_once()
    _registry.pop(name, None)


def factories() -> dict[str, HandlerFactory]:
    _discover_once()
    return dict(_registry)


@contextlib.contextmanager
def registered(name: str, factory: HandlerFactory) -> Iterator[None]:
    """Register for the duration of a block (tests, benchmarks)."""
    _discover_once()
    previous = _registry.get(name)
    register(name, factory)
    try:
        yield
    finally:
        if previous is None:
            unregister(name)
        else:
            register(name, previous)


def autodiscover() -> None:
    """Import `realtime_handlers` of every installed app (they register themselves)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("realtime_handlers")


def _call_fresh(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # A process that lives all session must not keep a connection the server has dropped.
    db.close_old_connections()
    return fn(*args, **kwargs)


async def db_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a database-touching function in Django's sync thread (one thread: writes stay ordered)."""
    return await sync_to_async(_call_fresh)(fn, *args, **kwargs)
