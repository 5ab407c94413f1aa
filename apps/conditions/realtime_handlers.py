"""The conditions handler of the realtime hub (`apps.realtime`): realtime condition entries and exits.

- syncs the condition list (CNSRLST) once the socket is up (retried each cycle until it succeeds);
- wants the conditions marked realtime in the database subscribed (re-read every cycle, so a toggle on
  the page takes effect within seconds, at most `CONDITIONS_MAX_REALTIME`); a subscription's initial list
  is applied as a snapshot, a refused one is recorded as a failed run;
- turns 02 I/D frames into `ConditionEvent`s through `services.realtime_apply`. Frames of one condition
  arriving within `CONDITIONS_REALTIME_BATCH_MS` are applied together (one transaction, one alert, so a
  burst is one message). A 02 frame carries no price: an entry or exit is priced with the last 0B trade
  at or before the frame's exchange time when the hub's last-price cache has one for the code
  (`ctx.prices`: codes whose ticks some handler subscribed), else an entry is priced with a quote
  (ka10001, a price from a little *after* the event), at most `CONDITIONS_QUOTE_LIMIT` per batch and
  within `CONDITIONS_QUOTE_TIMEOUT_SECONDS`. The event records which (`price_source` tick / quote);
- after a gap (the socket reconnected, or frames were dropped) searches every subscribed condition once
  over the socket and applies the lists, so nothing missed in the gap stays missed (the 30-second poll
  would catch it too);
- at shutdown applies the frames still pending.

Options (`HubContext.options`): `account` (default: the configured account), `batch_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.broker.backends import exchange_now
from apps.broker.contract import BrokerError, ConditionEvent, ConditionHit
from apps.realtime.handlers import Asked, Handler, HubContext, Wants, db_call, register

from . import services
from .models import Condition, PriceSource, Source

log = logging.getLogger(__name__)


@dataclass
class ConditionStats:
    frames: int = 0
    applied: int = 0
    resyncs: int = 0
    errors: int = 0
    tick_priced: int = 0
    quote_priced: int = 0


class ConditionsHandler(Handler):
    name = "conditions"
    events = (ConditionEvent,)

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        # The account is resolved on first use inside a database thread (`db_call`): the handler is
        # built inside the event loop, where the ORM refuses synchronous queries.
        self._account: str | None = ctx.options.get("account")
        batch = ctx.options.get("batch_seconds")
        self.batch_seconds = (
            settings.CONDITIONS_REALTIME_BATCH_MS / 1000 if batch is None else batch
        )
        self.stats = ConditionStats()
        self.subscribed: set[str] = set()
        self._ids: dict[str, int] = {}  # seq → Condition id of the wanted conditions
        self._synced = False
        self._pending: dict[str, list[services.RealtimeChange]] = defaultdict(list)
        self._flush_handles: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._apply_lock = asyncio.Lock()
        # Per condition, the last batch's flush: the next one applies after it (see `_flush`).
        self._last_flush: dict[str, asyncio.Task[Any]] = {}

    # ------------------------------------------------------------------ lifecycle
    async def on_start(self, ctx: HubContext) -> None:
        # Build the broker's sync client once here, not racing in the quote threads.
        await asyncio.to_thread(getattr, ctx.broker, "client", None)
        await self._sync_list()

    async def on_cycle(self) -> None:
        if not self._synced:
            await self._sync_list()

    async def _sync_list(self) -> None:
        feed = self.ctx.feed
        if feed is None:
            return
        listed = await feed.conditions()
        result = await db_call(lambda: services.conditions_sync(listed, self.account_no()))
        self._synced = True
        log.info(
            "realtime: %d conditions listed (%d new, %d gone)",
            len(listed),
            len(result.created),
            len(result.unlisted),
        )

    async def on_stop(self) -> None:
        for handle in self._flush_handles.values():
            handle.cancel()
        self._flush_handles.clear()
        for seq in list(self._pending):
            self._spawn_flush(seq)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    def health(self) -> dict[str, Any]:
        return {
            "frames": self.stats.frames,
            "applied": self.stats.applied,
            "resyncs": self.stats.resyncs,
            "errors": self.stats.errors,
            "tick_priced": self.stats.tick_priced,
            "quote_priced": self.stats.quote_priced,
        }

    # ------------------------------------------------------------------ subscriptions
    async def wants(self) -> Wants:
        self._ids = await db_call(self._wanted)
        self.subscribed &= set(self._ids)
        return Wants(conditions=frozenset(self._ids))

    def account_no(self) -> str:
        """The account whose conditions this handler serves (call from a database thread)."""
        if self._account is None:
            self._account = services.default_account()
        return self._account

    def _wanted(self) -> dict[str, int]:
        rows = Condition.objects.filter(
            account=self.account_no(), active=True, realtime=True, listed=True
        ).order_by("seq")
        return {c.seq: c.pk for c in rows[: settings.CONDITIONS_MAX_REALTIME]}

    async def on_subscribed(self, seq: str, hits: list[ConditionHit], asked: Asked) -> None:
        condition_id = self._ids.get(seq)
        if condition_id is None:
            return
        await self._apply_list(condition_id, hits, Source.REALTIME, asked)
        self.subscribed.add(seq)

    async def on_subscribe_failed(self, seq: str, error: Exception, asked: Asked) -> None:
        condition_id = self._ids.get(seq)
        if condition_id is not None:
            await db_call(
                services.run_failed,
                condition_id,
                source=Source.REALTIME,
                started_at=asked.at,
                error=str(error),
            )

    async def _apply_list(
        self, condition_id: int, hits: list[ConditionHit], source: str, asked: Asked
    ) -> None:
        async with self._apply_lock:
            await db_call(
                services.snapshot_apply,
                condition_id,
                [services.observation_from_hit(h) for h in hits],
                source=source,
                observed_at=asked.at,
                at=asked.exchange_at,
                started_at=asked.at,
            )

    async def on_gap(self, reason: str) -> None:
        """Frames of the gap are gone: search each subscribed condition once and apply the lists (one
        entry still makes one event)."""
        feed = self.ctx.feed
        if feed is None:
            return
        self.stats.resyncs += 1
        log.warning("realtime: %s; re-checking %d condition(s)", reason, len(self.subscribed))
        for seq in sorted(self.subscribed):
            condition_id = self._ids.get(seq)
            if condition_id is None:
                continue
            # The simulator's clock may take an HTTP request: never on the event loop.
            asked = Asked(timezone.now(), await asyncio.to_thread(exchange_now))
            try:
                hits = await feed.condition_search(seq)
            except BrokerError as exc:
                log.warning(
                    "realtime: re-check of %s failed (%s); the poll will catch up", seq, exc
                )
                continue
            await self._apply_list(condition_id, hits, Source.POLL, asked)

    # ------------------------------------------------------------------ events
    def on_event(self, event: ConditionEvent) -> None:
        """Cheap: the frame joins its condition's batch, applied when the batch window closes."""
        self.stats.frames += 1
        seq = event.seq
        self._pending[seq].append(
            services.RealtimeChange(
                code=event.code, entered=event.entered, at=event.at or exchange_now()
            )
        )
        if seq not in self._flush_handles:
            loop = asyncio.get_running_loop()
            self._flush_handles[seq] = loop.call_later(self.batch_seconds, self._spawn_flush, seq)

    def _spawn_flush(self, seq: str) -> None:
        self._flush_handles.pop(seq, None)
        changes = self._pending.pop(seq, [])
        if not changes:
            return
        previous = self._last_flush.get(seq)
        task = asyncio.create_task(
            self._flush(seq, changes, previous), name=f"realtime-flush-{seq}"
        )
        self._last_flush[seq] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(
        self, seq: str, changes: list[services.RealtimeChange], previous: asyncio.Task[Any] | None
    ) -> None:
        """Apply one batch of a condition's frames. Quotes are fetched outside any lock, but a batch is
        applied only after the condition's previous batch: one still waiting for an entry's quote while
        a later, exits-only batch went ahead applied an exit before the entry it follows, and lost the
        exit in between (a chaos run at 30x found it)."""
        condition_id = self._ids.get(seq)
        if condition_id is None:
            log.warning("realtime: %d frame(s) for unsubscribed condition %s", len(changes), seq)
            return
        try:
            changes = await self._with_quotes(self._with_ticks(changes))
            if previous is not None:
                await asyncio.wait({previous})  # its failure is its own (logged there)
            async with self._apply_lock:
                ids = await db_call(services.realtime_apply, condition_id, changes)
            self.stats.applied += len(ids)
        except Exception:
            self.stats.errors += 1
            # The poll will pick the state up within one cycle; nothing is lost for good.
            log.exception(
                "realtime: applying %d change(s) of condition %s failed", len(changes), seq
            )

    def _with_ticks(self, changes: list[services.RealtimeChange]) -> list[services.RealtimeChange]:
        """The price at the event: the last trade at or before the frame's time, when the hub has it."""
        prices = self.ctx.prices
        out = []
        for c in changes:
            tick = prices.at_or_before(c.code, c.at) if c.code in prices else None
            if tick is not None:
                self.stats.tick_priced += 1
                c = replace(
                    c,
                    price=tick.price,
                    change=tick.change,
                    change_rate=tick.change_rate,
                    price_source=PriceSource.TICK,
                )
            out.append(c)
        return out

    async def _with_quotes(
        self, changes: list[services.RealtimeChange]
    ) -> list[services.RealtimeChange]:
        """Entries the ticks could not price get a quote (a price from just after the event)."""
        wanted = list(dict.fromkeys(c.code for c in changes if c.entered and c.price is None))
        wanted = wanted[: settings.CONDITIONS_QUOTE_LIMIT]
        if not wanted:
            return changes
        broker = self.ctx.broker

        async def one(code: str) -> tuple[str, Any]:
            try:
                return code, await asyncio.to_thread(broker.quote, code)
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
            if q is not None and c.entered and c.price is None:
                self.stats.quote_priced += 1
                c = replace(
                    c,
                    name=q.name,
                    price=q.price,
                    change=q.change,
                    change_rate=q.change_rate,
                    price_source=PriceSource.QUOTE,
                )
            out.append(c)
        return out


register("conditions", ConditionsHandler)
