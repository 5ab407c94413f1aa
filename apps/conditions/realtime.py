"""The realtime process (`manage.py run_realtime`): the one long-lived Kiwoom WebSocket.

It holds the socket for every other process (Celery's condition checks reach Kiwoom through it, see
`apps/broker/kiwoom/relay.py`), and:

- syncs the condition list (CNSRLST) at start;
- keeps the realtime subscriptions (CNSRREQ search_type 1) equal to the conditions marked realtime in the
  database (re-read every `REALTIME_RESYNC_SECONDS`, so a toggle on the page takes effect within seconds);
  a subscription's initial list is applied as a snapshot;
- turns 02 I/D frames into `ConditionEvent`s through `services.realtime_apply`. Frames of one condition
  arriving within `CONDITIONS_REALTIME_BATCH_MS` are applied together (one transaction, one alert, so a
  burst is one message). Entries get the current price from a quote (ka10001), at most
  `CONDITIONS_QUOTE_LIMIT` per batch and within `CONDITIONS_QUOTE_TIMEOUT_SECONDS`;
- after the socket reconnects (a gap in which frames may have been lost) searches every realtime
  condition once over the socket and applies the lists, so nothing missed in the gap stays missed (the
  30-second poll would catch it too);
- feeds 0B ticks of `REALTIME_TICK_CODES` into `market.live.LiveBars` and writes the completed minute bars;
- reports a heartbeat (component `realtime`) to the health table;
- stops cleanly on SIGTERM/SIGINT: pending frames are applied, the socket is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django import db
from django.conf import settings
from django.utils import timezone

from apps.broker.backends import get_broker
from apps.broker.clock import exchange_now
from apps.broker.contract import (
    Broker,
    BrokerError,
    ConditionEvent,
    ConditionHit,
    RealtimeEvent,
    RealtimeFeed,
    Tick,
)
from apps.conditions import services
from apps.conditions.models import Condition, Source
from apps.core.models import Component, HealthStatus
from apps.core.services import status_record
from apps.market.live import LiveBars

log = logging.getLogger(__name__)
T = TypeVar("T")
SUBSCRIBE_RETRY_SECONDS = 60.0  # after a refused CNSRREQ search_type 1


def _call_fresh(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # A process that lives all session must not keep a connection the server has dropped.
    db.close_old_connections()
    return fn(*args, **kwargs)


async def _db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a database-touching function in Django's sync thread."""
    return await sync_to_async(_call_fresh)(fn, *args, **kwargs)


@dataclass
class RunnerStats:
    frames: int = 0
    applied: int = 0
    ticks: int = 0
    bars: int = 0
    resyncs: int = 0
    errors: int = 0
    subscribed: set[str] = field(default_factory=set)


class RealtimeRunner:
    def __init__(
        self,
        broker: Broker | None = None,
        *,
        account: str | None = None,
        batch_seconds: float | None = None,
        resync_seconds: float | None = None,
        heartbeat_seconds: float | None = None,
        tick_codes: list[str] | None = None,
    ) -> None:
        self.broker = broker or get_broker()
        self.account = services.default_account() if account is None else account
        self.batch_seconds = (
            settings.CONDITIONS_REALTIME_BATCH_MS / 1000 if batch_seconds is None else batch_seconds
        )
        self.resync_seconds = (
            settings.REALTIME_RESYNC_SECONDS if resync_seconds is None else resync_seconds
        )
        self.heartbeat_seconds = (
            settings.REALTIME_HEARTBEAT_SECONDS if heartbeat_seconds is None else heartbeat_seconds
        )
        self.tick_codes = list(settings.REALTIME_TICK_CODES if tick_codes is None else tick_codes)
        self.stats = RunnerStats()
        self.bars = LiveBars()
        self.feed: RealtimeFeed | None = None
        self._ids: dict[str, int] = {}  # seq → Condition id of the subscribed conditions
        self._pending: dict[str, list[services.RealtimeChange]] = defaultdict(list)
        self._flush_handles: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._apply_lock = asyncio.Lock()
        self._connections = 0
        self._retry_after: dict[str, float] = {}  # seq → monotonic time of the next attempt
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until `stop()`: connect (retrying), then keep subscriptions, heartbeat and bars going."""
        try:
            await self._connect()
            if self._stop.is_set():
                return
            self.ready.set()
            next_resync = 0.0
            next_beat = 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_resync:
                    next_resync = now + self.resync_seconds
                    await self._guarded(self._reconcile())
                    await self._guarded(self._after_reconnect())
                    await self._guarded(self._write_bars())
                if now >= next_beat:
                    next_beat = now + self.heartbeat_seconds
                    await self._guarded(self._heartbeat())
                self.bars.on_clock(exchange_now())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=0.5)
        finally:
            await self._shutdown()

    async def _guarded(self, coro: Any) -> None:
        try:
            await coro
        except Exception:
            self.stats.errors += 1
            log.exception("realtime: housekeeping step failed")

    async def _connect(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            feed = self.broker.realtime(on_event=self._on_event)
            try:
                await feed.start()
                listed = await feed.conditions()
            except BrokerError as exc:
                with contextlib.suppress(Exception):
                    await feed.close()
                log.warning("realtime: cannot connect yet (%s); retrying in %.0f s", exc, delay)
                await _db(
                    status_record, Component.REALTIME, HealthStatus.DOWN, f"connecting: {exc}"[:200]
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                delay = min(delay * 2, 30.0)
                continue
            self.feed = feed
            self._connections = feed.connections
            # Build the broker's sync client once here, not racing in the quote threads.
            await asyncio.to_thread(getattr, self.broker, "client", None)
            result = await _db(services.conditions_sync, listed, self.account)
            log.info(
                "realtime: connected; %d conditions listed (%d new, %d gone)",
                len(listed),
                len(result.created),
                len(result.unlisted),
            )
            if self.tick_codes:
                await feed.subscribe_ticks(self.tick_codes)
            return

    async def _shutdown(self) -> None:
        for handle in self._flush_handles.values():
            handle.cancel()
        for seq in list(self._pending):
            await self._flush(seq)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        with contextlib.suppress(Exception):
            await self._write_bars(final=True)
        if self.feed is not None:
            with contextlib.suppress(Exception):
                await self.feed.close()
            self.feed = None
        with contextlib.suppress(Exception):
            await _db(status_record, Component.REALTIME, HealthStatus.DOWN, "stopped")
        with contextlib.suppress(Exception):
            await sync_to_async(db.connections.close_all)()
        log.info("realtime: stopped")

    # ------------------------------------------------------------------ events
    def _on_event(self, event: RealtimeEvent) -> None:
        """Called on the socket's reader task: cheap, never blocks."""
        if isinstance(event, ConditionEvent):
            self.stats.frames += 1
            seq = event.seq
            self._pending[seq].append(
                services.RealtimeChange(
                    code=event.code, entered=event.entered, at=event.at or exchange_now()
                )
            )
            if seq not in self._flush_handles:
                loop = asyncio.get_running_loop()
                self._flush_handles[seq] = loop.call_later(
                    self.batch_seconds, self._spawn_flush, seq
                )
        elif isinstance(event, Tick):
            self.stats.ticks += 1
            self.bars.on_trade(event)

    def _spawn_flush(self, seq: str) -> None:
        self._flush_handles.pop(seq, None)
        task = asyncio.create_task(self._flush(seq), name=f"realtime-flush-{seq}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, seq: str) -> None:
        changes = self._pending.pop(seq, [])
        if not changes:
            return
        condition_id = self._ids.get(seq)
        if condition_id is None:
            log.warning("realtime: %d frame(s) for unsubscribed condition %s", len(changes), seq)
            return
        try:
            changes = await self._with_quotes(changes)
            async with self._apply_lock:
                ids = await _db(services.realtime_apply, condition_id, changes)
            self.stats.applied += len(ids)
        except Exception:
            self.stats.errors += 1
            # The poll will pick the state up within one cycle; nothing is lost for good.
            log.exception(
                "realtime: applying %d change(s) of condition %s failed", len(changes), seq
            )

    async def _with_quotes(
        self, changes: list[services.RealtimeChange]
    ) -> list[services.RealtimeChange]:
        wanted = list(dict.fromkeys(c.code for c in changes if c.entered))
        wanted = wanted[: settings.CONDITIONS_QUOTE_LIMIT]
        if not wanted:
            return changes

        async def one(code: str) -> tuple[str, Any]:
            try:
                return code, await asyncio.to_thread(self.broker.quote, code)
            except BrokerError as exc:
                log.info("realtime: no quote for %s (%s)", code, exc)
                return code, None

        quotes: dict[str, Any] = {}
        tasks = [asyncio.create_task(one(code)) for code in wanted]
        done, pending = await asyncio.wait(tasks, timeout=settings.CONDITIONS_QUOTE_TIMEOUT_SECONDS)
        for task in pending:
            task.cancel()
        for task in done:
            code, quote = task.result()
            if quote is not None:
                quotes[code] = quote
        out = []
        for c in changes:
            q = quotes.get(c.code)
            if q is not None and c.entered:
                c = replace(
                    c, name=q.name, price=q.price, change=q.change, change_rate=q.change_rate
                )
            out.append(c)
        return out

    # ------------------------------------------------------------------ subscriptions
    async def _wanted(self) -> dict[str, int]:
        return await _db(self._wanted_sync)

    def _wanted_sync(self) -> dict[str, int]:
        rows = Condition.objects.filter(
            account=self.account, active=True, realtime=True, listed=True
        ).order_by("seq")
        return {c.seq: c.pk for c in rows[: settings.CONDITIONS_MAX_REALTIME]}

    async def _reconcile(self) -> None:
        feed = self.feed
        if feed is None:
            return
        wanted = await self._wanted()
        held = feed.subscribed_conditions()
        for seq in sorted(set(self._ids) - held):
            # Refused when the socket restored it after a reconnect (say, deleted in the HTS
            # meanwhile): forget it, so it is subscribed again below (or retried later).
            log.warning("realtime: condition %s is no longer subscribed; subscribing again", seq)
            self._ids.pop(seq, None)
            self.stats.subscribed.discard(seq)
        for seq in sorted(set(self._ids) - set(wanted)):
            self._ids.pop(seq, None)
            self.stats.subscribed.discard(seq)
            try:
                await feed.unsubscribe_condition(seq)
            except BrokerError as exc:
                log.warning("realtime: CNSRCLR %s failed (%s)", seq, exc)
            log.info("realtime: condition %s unsubscribed", seq)
        for seq in sorted(set(wanted) - set(self._ids)):
            if self._retry_after.get(seq, 0.0) > time.monotonic():
                continue
            started = timezone.now()
            at = exchange_now()
            # Frames may arrive before the initial list is applied: they wait for _apply_lock.
            self._ids[seq] = wanted[seq]
            try:
                hits = await feed.subscribe_condition(seq)
            except BrokerError as exc:
                self._ids.pop(seq, None)
                self._retry_after[seq] = time.monotonic() + SUBSCRIBE_RETRY_SECONDS
                log.warning("realtime: condition %s not subscribed (%s)", seq, exc)
                await _db(
                    services.run_failed,
                    wanted[seq],
                    source=Source.REALTIME,
                    started_at=started,
                    error=str(exc),
                )
                continue
            await self._apply_list(wanted[seq], hits, Source.REALTIME, started, at)
            self.stats.subscribed.add(seq)
            log.info("realtime: condition %s subscribed (%d members)", seq, len(hits))

    async def _apply_list(
        self,
        condition_id: int,
        hits: list[ConditionHit],
        source: str,
        started: datetime,
        at: datetime,
    ) -> None:
        async with self._apply_lock:
            await _db(
                services.snapshot_apply,
                condition_id,
                [services.observation_from_hit(h) for h in hits],
                source=source,
                observed_at=started,
                at=at,
                started_at=started,
            )

    async def _after_reconnect(self) -> None:
        """The socket came back: frames sent during the gap are gone, so search each realtime condition
        once and apply the lists (one entry still makes one event)."""
        feed = self.feed
        if feed is None or feed.connections <= self._connections:
            return
        self._connections = feed.connections
        self.stats.resyncs += 1
        log.warning("realtime: socket reconnected; re-checking %d condition(s)", len(self._ids))
        for seq, condition_id in sorted(self._ids.items()):
            started = timezone.now()
            at = exchange_now()
            try:
                hits = await feed.condition_search(seq)
            except BrokerError as exc:
                log.warning(
                    "realtime: re-check of %s failed (%s); the poll will catch up", seq, exc
                )
                continue
            await self._apply_list(condition_id, hits, Source.POLL, started, at)

    # ------------------------------------------------------------------ bars and health
    async def _write_bars(self, final: bool = False) -> None:
        if not self.tick_codes:
            return
        if final:
            self.bars.on_clock(exchange_now())
        result = await _db(self.bars.flush)
        self.stats.bars += getattr(result, "rows", 0) or 0

    async def _heartbeat(self) -> None:
        feed = self.feed
        connections = feed.connections if feed else 0
        message = f"{len(self._ids)} realtime condition(s), connection #{connections}"
        await _db(
            status_record,
            Component.REALTIME,
            HealthStatus.OK if feed is not None else HealthStatus.DOWN,
            message,
            details={
                "subscribed": sorted(self._ids),
                "frames": self.stats.frames,
                "applied": self.stats.applied,
                "ticks": self.stats.ticks,
                "resyncs": self.stats.resyncs,
                "errors": self.stats.errors,
                "connections": connections,
            },
        )
