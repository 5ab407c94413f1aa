"""The realtime hub (`manage.py run_realtime`): the one long-lived broker WebSocket per app key.

The hub owns the socket (a `RealtimeFeed` of `apps.broker.contract`; the Kiwoom feed also serves other
processes' condition searches over the relay, `apps/broker/kiwoom/relay.py`) and everything around it:

- connecting (retrying with backoff until the broker answers); the feed reconnects by itself after that;
- a dispatcher: the socket's reader hands each typed event to the queues of the handlers that take it
  and returns at once (`Handler` contract and isolation rules: `apps.realtime.handlers`);
- the account: without an explicit broker the hub follows the process's (`get_broker`); after an account
  switch (another `BrokerAccount` activated) it closes the socket, reconnects with the new keys,
  subscribes everything again and gives every handler a `reconnect` gap;
- subscriptions: the union of what handlers want (tick codes, VI codes, realtime conditions, account
  events), re-read every `REALTIME_RESYNC_SECONDS` and kept across reconnects;
- gaps: after a reconnect, or after a handler's queue overflowed, that handler's `on_gap` is called;
- a last-price cache (`ctx.prices`): the recent 0B ticks per subscribed code, for handlers that need the
  price at a moment (the conditions handler prices a 02 entry with it);
- a heartbeat (component `realtime`): `ok` only while the socket is logged in, `down` while it is not,
  with the last frame's time and each handler's counters;
- shutdown on SIGTERM/SIGINT: the socket is closed, every queue is drained, each handler's `on_stop`
  flushes its pending work, health says `stopped`.

Handlers come from the registry (`realtime_handlers.py` of each app, see `handlers.py`): conditions
(02 entries/exits) in `apps.conditions`, minute bars from 0B ticks in `apps.market`. The hub imports no app.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django import db
from django.conf import settings
from django.utils import timezone

from apps.broker.backends import exchange_now, get_broker, reconnect_delay
from apps.broker.contract import (
    Broker,
    BrokerError,
    BrokerUnavailable,
    ConditionEvent,
    RealtimeEvent,
    RealtimeFeed,
    Tick,
    ViEvent,
)
from apps.core.models import Component, HealthStatus
from apps.core.services import status_record

from .handlers import Asked, Handler, HandlerFactory, HubContext, Wants, db_call, factories

log = logging.getLogger(__name__)
SUBSCRIBE_RETRY_SECONDS = 60.0  # after a refused CNSRREQ search_type 1
DRAIN_SECONDS = 5.0  # at shutdown: how long the queues get to empty
STOP_HOOK_SECONDS = 10.0  # at shutdown: each handler's on_stop
WANTS_SECONDS = 5.0  # each handler's wants() per cycle
YIELD_EVERY = 32  # a handler that never awaits still lets the socket's reader run this often


@dataclass
class Slot:
    """One handler with its queue, its task and its counters."""

    handler: Handler
    queue: asyncio.Queue[RealtimeEvent]
    wants: Wants = field(default_factory=Wants)
    task: asyncio.Task[None] | None = None
    received: int = 0
    handled: int = 0
    errors: int = 0
    dropped: int = 0
    gap_dropped: int = 0  # `dropped` when on_gap("dropped") was last called
    gap: str | None = None  # for the next on_gap
    housekeeping: asyncio.Task[None] | None = None  # its on_gap/on_cycle of the current cycle
    busy: int = 0  # cycles skipped because the last one was still running

    @property
    def name(self) -> str:
        return self.handler.name or type(self.handler).__name__

    def accepts(self, event: RealtimeEvent, key: str | None, ticks: frozenset[str]) -> bool:
        """`key`: the tick's or VI's code or the condition's seq (None for other events: all pass);
        `ticks`: the codes the hub holds tick subscriptions for (a `vi_of_ticks` handler's VI codes)."""
        if key is None:
            return True
        if isinstance(event, Tick):
            return key in self.wants.ticks
        if isinstance(event, ViEvent):
            return key in self.wants.vi or (self.wants.vi_of_ticks and key in ticks)
        return key in self.wants.conditions

    def figures(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "handled": self.handled,
            "errors": self.errors,
            "dropped": self.dropped,
            "queued": self.queue.qsize(),
            "busy_cycles": self.busy,
        }


class Hub:
    def __init__(
        self,
        broker: Broker | None = None,
        *,
        handlers: Mapping[str, HandlerFactory] | None = None,
        options: Mapping[str, Any] | None = None,
        resync_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        broker_source: Callable[[], Broker] | None = None,
    ) -> None:
        """`handlers` defaults to the registry; `options` reach every handler factory (`HubContext`).
        Without a `broker` the hub follows the process's broker (`get_broker`, or `broker_source`):
        when the active account changes, it reconnects with the new account's keys."""
        if broker_source is None and broker is None:
            broker_source = get_broker
        self.broker_source = broker_source
        self.broker = broker or (broker_source or get_broker)()
        self.ctx = HubContext(self.broker, dict(options or {}))
        self.resync_seconds = (
            settings.REALTIME_RESYNC_SECONDS if resync_seconds is None else resync_seconds
        )
        self.heartbeat_seconds = (
            settings.REALTIME_HEARTBEAT_SECONDS if heartbeat_seconds is None else heartbeat_seconds
        )
        self.slots: list[Slot] = []
        for name, factory in (factories() if handlers is None else dict(handlers)).items():
            handler = factory(self.ctx)
            if handler is None:
                continue
            if not handler.name:
                handler.name = name  # type: ignore[misc]
            self.slots.append(Slot(handler, asyncio.Queue(handler.queue_size)))
        self._declared: dict[type[RealtimeEvent], list[Slot]] = {}
        for slot in self.slots:
            for event_type in slot.handler.events:
                self._declared.setdefault(event_type, []).append(slot)
        # Backends deliver subclasses of the contract's event types (KiwoomTick is a Tick): a
        # concrete type's slots are resolved through its MRO once, then cached here.
        self._routes: dict[type[RealtimeEvent], list[Slot]] = dict(self._declared)
        self.feed: RealtimeFeed | None = None
        self.frames = 0
        self.errors = 0
        self.tick_codes: frozenset[str] = frozenset()
        self.vi_codes: frozenset[str] = frozenset()
        self.conditions: set[str] = set()  # realtime conditions the hub holds
        self.account = False
        self._retry_after: dict[str, float] = {}  # seq → monotonic time of the next attempt
        self.unsubscribed: dict[str, str] = {}  # wanted realtime conditions not held → why
        self._connections = 0
        self.switches = 0  # reconnects to another account's broker
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()

    def handler(self, name: str) -> Handler:
        for slot in self.slots:
            if slot.name == name:
                return slot.handler
        raise KeyError(name)

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until `stop()`: connect (retrying), then keep subscriptions, gaps and the heartbeat going."""
        try:
            if not await self.start():
                return
            next_cycle = 0.0
            next_beat = 0.0
            reported: tuple[bool, bool] | None = (
                None  # (socket up, all conditions held) last written
            )
            while not self._stop.is_set():
                now = time.monotonic()
                feed = self.feed
                if now >= next_cycle or (feed is not None and feed.connections > self._connections):
                    # A reconnect is resynced at once, not at the next cycle.
                    next_cycle = now + self.resync_seconds
                    await self.cycle()
                state = (bool(feed and feed.connected), not self.unsubscribed)
                if now >= next_beat or state != reported:
                    # A change of the socket's state is reported at once: health shows a lost socket
                    # red, and a restored one green, within half a second, not a heartbeat later.
                    next_beat = now + self.heartbeat_seconds
                    reported = state
                    await self._guarded(self._heartbeat(), "heartbeat")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=0.5)
        finally:
            await self.shutdown()

    async def start(self) -> bool:
        """Start the handlers' tasks, connect (retrying until `stop()`), call every `on_start`.
        False when stopped before a connection was made."""
        for slot in self.slots:
            if slot.task is None:
                slot.task = asyncio.create_task(self._work(slot), name=f"realtime-{slot.name}")
        await self._connect()
        if self._stop.is_set():
            return False
        await self._each(lambda h: h.on_start(self.ctx), "on_start")
        self.ready.set()
        return True

    async def cycle(self) -> None:
        """One housekeeping step: subscriptions, then each handler's `on_gap` (if it had one) and
        `on_cycle` on a task of its own, so a slow one holds up neither the hub nor the others (a
        handler still busy with the last cycle skips this one; a pending gap waits for it)."""
        switched = await self._follow_account()
        await self._guarded(self._reconcile(), "subscriptions")
        feed = self.feed
        reconnected = switched or (feed is not None and feed.connections > self._connections)
        if reconnected and feed is not None:
            self._connections = feed.connections
            self.ctx.prices.clear()  # a price from before the gap is not the price after it
            log.warning("realtime: socket reconnected (#%d); handlers resync", feed.connections)
        for slot in self.slots:
            if reconnected:
                slot.gap = "reconnect"
            elif slot.dropped > slot.gap_dropped and slot.gap is None:
                slot.gap_dropped = slot.dropped
                slot.gap = "dropped"
            if slot.housekeeping is not None and not slot.housekeeping.done():
                slot.busy += 1
                continue
            slot.housekeeping = asyncio.create_task(
                self._housekeep(slot), name=f"realtime-{slot.name}-cycle"
            )

    async def _follow_account(self) -> bool:
        """When the process's broker changed (another account was activated: `get_broker` builds a
        new one within seconds of the switch), close the socket, reconnect with the new broker and
        forget every subscription, so this cycle subscribes everything again on the new socket and
        every handler gets a `reconnect` gap (they reconcile against the new account)."""
        if self.broker_source is None or self._stop.is_set():
            return False
        try:
            broker = await asyncio.to_thread(self.broker_source)
        except Exception as exc:
            log.warning("realtime: broker unavailable (%s); keeping the current one", exc)
            return False
        if broker is self.broker:
            return False
        log.warning("realtime: the active broker account changed; reconnecting with its keys")
        old_feed, old_broker = self.feed, self.broker
        self.feed = self.ctx.feed = None
        if old_feed is not None:
            with contextlib.suppress(Exception):
                await old_feed.close()
        self.broker = self.ctx.broker = broker
        self.tick_codes = frozenset()
        self.vi_codes = frozenset()
        self.conditions.clear()
        self.account = False
        self._retry_after.clear()
        self.unsubscribed.clear()
        self.ctx.prices.clear()
        self.switches += 1
        await self._connect()
        with contextlib.suppress(Exception):
            # Not the process's broker any more (get_broker hands out the new one): ours to close.
            await asyncio.to_thread(old_broker.close)
        return self.feed is not None

    async def _housekeep(self, slot: Slot) -> None:
        gap, slot.gap = slot.gap, None
        if gap is not None:
            await self._hook(slot, slot.handler.on_gap(gap), "on_gap")
        await self._hook(slot, slot.handler.on_cycle(), "on_cycle")

    async def idle(self) -> None:
        """Until every handler has finished its housekeeping and emptied its queue (tests)."""
        housekeeping = [s.housekeeping for s in self.slots if s.housekeeping is not None]
        await asyncio.gather(*housekeeping, *(s.queue.join() for s in self.slots))

    async def _connect(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            delay = reconnect_delay(attempt)  # quick while a restarted broker is likely back soon
            feed = self.broker.realtime(on_event=self.dispatch)
            try:
                await feed.start()
            except BrokerError as exc:
                with contextlib.suppress(Exception):
                    await feed.close()
                log.warning("realtime: cannot connect yet (%s); retrying in %.1f s", exc, delay)
                await self._guarded(
                    db_call(
                        status_record,
                        Component.REALTIME,
                        HealthStatus.DOWN,
                        f"connecting: {exc}"[:200],
                    ),
                    "health",
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                continue
            self.feed = self.ctx.feed = feed
            self._connections = feed.connections
            log.info("realtime: connected; %d handler(s)", len(self.slots))
            return

    async def shutdown(self) -> None:
        """Close the socket, drain the queues, let each handler flush (`on_stop`), report `stopped`."""
        feed, self.feed = self.feed, None
        self.ctx.feed = None
        if feed is not None:
            # First: no new events arrive, and other processes stop relaying through a closing socket.
            with contextlib.suppress(Exception):
                await feed.close()
        busy = [s.housekeeping for s in self.slots if s.housekeeping and not s.housekeeping.done()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(slot.queue.join() for slot in self.slots), *busy), DRAIN_SECONDS
            )
        for slot in self.slots:
            if slot.task is not None:
                slot.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await slot.task
            if not slot.queue.empty():
                log.warning(
                    "realtime: %s stopped with %d event(s) unhandled", slot.name, slot.queue.qsize()
                )

        async def stop_one(slot: Slot) -> None:
            try:
                await asyncio.wait_for(slot.handler.on_stop(), STOP_HOOK_SECONDS)
            except Exception:
                slot.errors += 1
                log.exception("realtime: %s failed to stop cleanly", slot.name)

        for slot in self.slots:
            if slot.housekeeping is not None and not slot.housekeeping.done():
                slot.housekeeping.cancel()
        await asyncio.gather(*(stop_one(slot) for slot in self.slots))
        with contextlib.suppress(Exception):
            await db_call(status_record, Component.REALTIME, HealthStatus.DOWN, "stopped")
        with contextlib.suppress(Exception):
            await sync_to_async(db.connections.close_all)()
        log.info("realtime: stopped")

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, event: RealtimeEvent) -> None:
        """Called on the socket's reader task for every event: only queues, never waits."""
        self.frames += 1
        slots = self._routes.get(type(event))
        if slots is None:
            slots = self._routes[type(event)] = [
                slot for t in type(event).__mro__ for slot in self._declared.get(t, ())
            ]
        if not slots:
            return
        # Decoded once here, not once per handler (events decode a field on every read).
        if isinstance(event, Tick):
            key: str | None = event.code
            self.ctx.prices.record(key, event)
        elif isinstance(event, ViEvent):
            key = event.code
        else:
            key = event.seq if isinstance(event, ConditionEvent) else None
        ticks = self.tick_codes
        for slot in slots:
            if not slot.accepts(event, key, ticks):
                continue
            try:
                slot.queue.put_nowait(event)
            except asyncio.QueueFull:
                slot.dropped += 1
                if slot.dropped == 1 or slot.dropped % 1000 == 0:
                    log.warning(
                        "realtime: %s is behind (queue of %d full); %d event(s) dropped so far",
                        slot.name,
                        slot.queue.maxsize,
                        slot.dropped,
                    )
            else:
                slot.received += 1

    async def _work(self, slot: Slot) -> None:
        handler = slot.handler
        queue = slot.queue
        since_yield = 0
        failed = 0
        while True:
            event = await queue.get()
            try:
                result = handler.on_event(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                slot.errors += 1
                failed += 1
                if (
                    failed == 1 or failed % 100 == 0
                ):  # one failing on every tick must not flood the log
                    log.exception("realtime: %s failed on %r (%d times)", slot.name, event, failed)
            finally:
                slot.handled += 1
                queue.task_done()
            since_yield += 1
            if since_yield >= YIELD_EVERY:
                # queue.get() does not suspend while events are waiting: let the reader run.
                since_yield = 0
                await asyncio.sleep(0)

    # ------------------------------------------------------------------ hooks
    async def _hook(self, slot: Slot, coro: Any, what: str) -> Any:
        try:
            return await coro
        except Exception:
            slot.errors += 1
            log.exception("realtime: %s.%s failed", slot.name, what)
            return None

    async def _each(self, call: Any, what: str) -> None:
        await asyncio.gather(*(self._hook(slot, call(slot.handler), what) for slot in self.slots))

    async def _guarded(self, coro: Any, what: str) -> None:
        try:
            await coro
        except Exception:
            self.errors += 1
            log.exception("realtime: %s step failed", what)

    # ------------------------------------------------------------------ subscriptions
    async def _reconcile(self) -> None:
        feed = self.feed
        if feed is None:
            return

        async def wants(slot: Slot) -> None:
            # A handler that cannot say in time keeps what it wanted before.
            got = await self._hook(
                slot, asyncio.wait_for(slot.handler.wants(), WANTS_SECONDS), "wants"
            )
            if isinstance(got, Wants):
                slot.wants = got

        await asyncio.gather(*(wants(slot) for slot in self.slots))
        await self._reconcile_ticks(feed)
        await self._reconcile_vi(feed)
        if any(slot.wants.account for slot in self.slots) and not self.account:
            await feed.subscribe_account()
            self.account = True
        await self._reconcile_conditions(feed)

    async def _reconcile_ticks(self, feed: RealtimeFeed) -> None:
        wanted = frozenset().union(*(slot.wants.ticks for slot in self.slots))
        added, removed = wanted - self.tick_codes, self.tick_codes - wanted
        try:
            if removed:
                await feed.unsubscribe_ticks(sorted(removed))
                self.tick_codes -= removed
            if added:
                await feed.subscribe_ticks(sorted(added))
                self.tick_codes |= added
                log.info("realtime: ticks of %d code(s) subscribed", len(added))
        except BrokerError as exc:  # refused: tried again next cycle
            log.warning("realtime: tick subscription not changed (%s)", exc)

    async def _reconcile_vi(self, feed: RealtimeFeed) -> None:
        """VI (1h) of every handler's `vi` codes, plus the tick codes if one asks `vi_of_ticks`."""
        wanted = frozenset().union(*(slot.wants.vi for slot in self.slots))
        if any(slot.wants.vi_of_ticks for slot in self.slots):
            wanted |= frozenset().union(*(slot.wants.ticks for slot in self.slots))
        added, removed = wanted - self.vi_codes, self.vi_codes - wanted
        try:
            if removed:
                await feed.unsubscribe_vi(sorted(removed))
                self.vi_codes -= removed
            if added:
                await feed.subscribe_vi(sorted(added))
                self.vi_codes |= added
                log.info("realtime: VI of %d code(s) subscribed", len(added))
        except BrokerError as exc:  # refused: tried again next cycle
            log.warning("realtime: VI subscription not changed (%s)", exc)

    async def _reconcile_conditions(self, feed: RealtimeFeed) -> None:
        owners: dict[str, list[Slot]] = {}
        for slot in self.slots:
            for seq in slot.wants.conditions:
                owners.setdefault(seq, []).append(slot)
        held = feed.subscribed_conditions()
        for seq in sorted(self.conditions - held):
            # Refused when the socket restored it after a reconnect (say, deleted in the HTS
            # meanwhile): forget it, so it is subscribed again below (or retried later).
            log.warning("realtime: condition %s is no longer subscribed; subscribing again", seq)
            self.conditions.discard(seq)
        for seq in set(self.unsubscribed) - set(owners):
            del self.unsubscribed[seq]  # not wanted any more
        for seq in sorted(self.conditions - set(owners)):
            self.conditions.discard(seq)
            try:
                await feed.unsubscribe_condition(seq)
            except BrokerError as exc:
                log.warning("realtime: CNSRCLR %s failed (%s)", seq, exc)
            log.info("realtime: condition %s unsubscribed", seq)
        for seq in sorted(set(owners) - self.conditions):
            if self._retry_after.get(seq, 0.0) > time.monotonic():
                continue
            # The simulator's clock may take an HTTP request: never on the event loop.
            asked = Asked(timezone.now(), await asyncio.to_thread(exchange_now))
            try:
                hits = await feed.subscribe_condition(seq)
            except BrokerError as exc:
                # A refusal is asked again in a minute; a socket that dropped or a reply that did not
                # come, next cycle (unwatched for a minute, a realtime condition loses its flaps).
                transient = isinstance(exc, BrokerUnavailable)
                wait = 0.0 if transient else SUBSCRIBE_RETRY_SECONDS
                self._retry_after[seq] = time.monotonic() + wait
                self.unsubscribed[seq] = str(exc)[:120]
                log.warning("realtime: condition %s not subscribed (%s)", seq, exc)
                for slot in owners[seq]:
                    await self._hook(
                        slot,
                        slot.handler.on_subscribe_failed(seq, exc, asked),
                        "on_subscribe_failed",
                    )
                continue
            self.conditions.add(seq)
            self._retry_after.pop(seq, None)
            self.unsubscribed.pop(seq, None)
            for slot in owners[seq]:
                await self._hook(
                    slot, slot.handler.on_subscribed(seq, hits, asked), "on_subscribed"
                )
            log.info("realtime: condition %s subscribed (%d members)", seq, len(hits))

    # ------------------------------------------------------------------ health
    def details(self) -> dict[str, Any]:
        feed = self.feed
        last = feed.last_frame_at if feed else None
        return {
            "connected": bool(feed and feed.connected),
            "last_frame_at": last.isoformat() if last else None,
            "connections": feed.connections if feed else 0,
            "frames": self.frames,
            "errors": self.errors,
            "subscribed": sorted(self.conditions),
            "not_subscribed": dict(sorted(self.unsubscribed.items())),
            "ticks": len(self.tick_codes),
            "vi": len(self.vi_codes),
            "handlers": {
                slot.name: {**slot.figures(), **self._safe_health(slot)} for slot in self.slots
            },
        }

    def _safe_health(self, slot: Slot) -> dict[str, Any]:
        try:
            return dict(slot.handler.health())
        except Exception:
            log.exception("realtime: %s.health failed", slot.name)
            return {}

    async def _heartbeat(self) -> None:
        """`ok` only while the socket is logged in; `down` while it reconnects (the feed retries)."""
        details = self.details()
        connected = details["connected"]
        status = HealthStatus.OK if connected else HealthStatus.DOWN
        if connected:
            message = (
                f"{len(self.conditions)} realtime condition(s), {len(self.tick_codes)} tick code(s), "
                f"connection #{details['connections']}"
            )
            if self.unsubscribed:
                # A wanted realtime condition not held: its entries are not heard (degraded, not ok).
                status = HealthStatus.DEGRADED
                missing = ", ".join(f"{s} ({why})" for s, why in sorted(self.unsubscribed.items()))
                message += f"; not subscribed: {missing}"
        else:
            message = (
                f"socket down, reconnecting (last frame {details['last_frame_at'] or 'never'})"
            )
        dropped = sum(slot.dropped for slot in self.slots)
        if dropped:
            message += f", {dropped} event(s) dropped"
        await db_call(status_record, Component.REALTIME, status, message, details=details)
