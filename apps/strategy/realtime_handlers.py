"""The strategy engine in the realtime hub (`strategy.engine`): live events in, signals → orders out.

- **Wants** the 0B ticks of the latest scan's top `STRATEGY_WATCH_TOP_N` candidates and of the codes the
  engine holds (open positions tagged with one of its strategies) or entered today (accepted buy
  signals), nothing else.
- **Events → engine** (`apps.strategy.engine`), all on the event loop, one at a time, each with its
  exchange time (never wall time):
  `Tick` → `TickEvent`; a minute bar the handler's own `LiveBars` completes (on a tick of the next minute
  or on the exchange clock each cycle) → `BarEvent` before the tick that completed it (bars are written
  to `MinuteBar`, idempotently, so a restart can rebuild from them); the scanner's Redis pub/sub message
  (`feeds.scan_channel()`, `{snapshot_id, at}`; and each cycle the latest snapshot, in case a message was
  lost) → `ScanEvent` with `feeds.latest_candidates()`; a breaking-news item (`feeds.news_subscribe`) →
  `NewsEvent`; condition entries/exits → `ConditionEvent` read from the durable log (`ConditionEvent`
  rows with an id above the last handled, every cycle and at once on `condition_entered`, which fires in
  this process for realtime entries; poll entries are recorded by a worker).
  The contract this gives the strategies: session state (opening range, VWAP) is built from `BarEvent`s,
  `TickEvent`s are for triggers within the minute — live and after a rebuild (bars only, no ticks) a
  strategy then sees the same bars, and a strategy that summed ticks AND bars would count volume twice.
- **Signals** go to `execution.asignal_execute` on tasks of their own (the engine never waits for an
  order): stored once per key, gated, sized, sent through `aorder_submit`.
- **Restart mid-session** (`on_start`): today's signals a killed process left `new` get their outcome
  (`execution.signals_interrupted_settle`: `accepted` with the order its key made, else `failed`);
  today's stored signal keys → `engine.mark_fired`; the latest scan,
  today's stored minute bars of the watched codes and today's condition events, in exchange-time order →
  the engine (opening ranges and VWAP rebuilt); signals the replay produces are executed only when
  fresher than `STRATEGY_REBUILD_FRESH_SECONDS` at the exchange's clock (an entry missed while the
  process was down, not a stale one), and the Signal key makes any repeat a no-op.
  The database reads, the replay order and the scan channel are in `handler_support.py`.
- **Status**: a heartbeat in Redis every cycle (`apps.strategy.status`; `GET /api/v1/health` → `engine`),
  `system_status` pushed when the gate's state, the engine's or the number of positions changes and every
  `STRATEGY_STATUS_PUSH_SECONDS`; `stopped` at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

import krx
from apps.broker.contract import Tick
from apps.core.live import publish_soon
from apps.realtime.handlers import Handler, HubContext, Wants, db_call, register

from . import feeds
from .engine.base import StrategySettings
from .engine.events import (
    BarEvent,
    Candidate,
    Event,
    ScanEvent,
    Signal,
    TickEvent,
)
from .engine.runner import Engine
from .execution import Executed, ExecutionContext, asignal_execute, signals_interrupted_settle
from .handler_support import (
    MINUTE,
    Rebuilt,
    bar_event,
    bars_write,
    conditions_after,
    day_minute_bars_async,
    listen_scan_channel,
    parse_scan_message,
    rebuild_read,
    refresh_read,
    replay_events,
)
from .status import heartbeat_clear, heartbeat_write, system_status_payload

log = logging.getLogger(__name__)

__all__ = ["EngineStats", "Rebuilt", "StrategyEngineHandler"]


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


@dataclass
class EngineStats:
    ticks: int = 0
    bars: int = 0
    scans: int = 0
    news: int = 0
    conditions: int = 0
    signals: int = 0
    replayed: int = 0  # events fed at start (the rebuild)
    stale_signals: int = 0  # signals of the rebuild older than the freshness window: not executed
    duplicates: int = 0  # signals whose key was stored already
    warmed_bars: int = 0  # minute-chart bars fed before a code's first live tick
    by_status: dict[str, int] = field(default_factory=dict)
    errors: int = 0


class StrategyEngineHandler(Handler):
    name = "strategy.engine"
    events = (Tick,)
    queue_size = 100_000

    def __init__(
        self, ctx: HubContext, *, exchange_now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.ctx = ctx
        options = ctx.options
        self.stats = EngineStats()
        self.engine: Engine | None = None
        self.settings: dict[str, StrategySettings] = {}
        self.account = ""
        self.candidates: list[Candidate] = []
        self.scan_id: int | None = None
        self.held: frozenset[str] = frozenset()
        self.day: dt.date | None = None
        self.started_at: dt.datetime | None = None
        self.last_condition_id = 0
        self.top_n = int(options.get("strategy_watch_top", _setting("STRATEGY_WATCH_TOP_N", 20)))
        self.fresh = dt.timedelta(
            seconds=float(
                options.get("strategy_fresh", _setting("STRATEGY_REBUILD_FRESH_SECONDS", 60))
            )
        )
        self.status_every = float(
            options.get("strategy_status_every", _setting("STRATEGY_STATUS_PUSH_SECONDS", 30))
        )
        self.place = options.get("strategy_place")  # tests/benches: the async place call
        self.options_prepare = options.get("strategy_prepare")
        self._exchange_now = exchange_now
        self._bars: Any = None  # apps.market.live.LiveBars (imported at start: pandas)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pubsub: asyncio.Task[None] | None = None
        self._unsubscribe_news: Callable[[], None] = lambda: None
        self._condition_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status_sent: tuple[Any, ...] | None = None
        self._status_at = 0.0
        self._replay_now: dt.datetime | None = None  # set while the rebuild feeds the engine
        # Codes whose bars of the day are being fetched (their ticks wait, in order), and those done.
        self._warming: dict[str, list[Tick]] = {}
        self._warmed: set[str] = set()

    # ------------------------------------------------------------------ hub hooks
    async def wants(self) -> Wants:
        return Wants(ticks=self.watched())

    def watched(self) -> frozenset[str]:
        top = [c.code for c in self.candidates[: self.top_n]]
        return frozenset(top) | self.held

    async def on_start(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._loop = asyncio.get_running_loop()
        try:
            await self._start_engine(await self._now())
        except Exception:  # the database or the clock not there yet: each cycle tries again
            self.stats.errors += 1
            log.exception("strategy: starting the engine failed; retrying every cycle")
        self._unsubscribe_news = feeds.news_subscribe(self._on_news_item)
        self._connect_conditions()
        if self._pubsub is None or self._pubsub.done():
            self._pubsub = self._loop.create_task(self._scan_listener(), name="strategy.scan")
        await self._heartbeat()
        await self._push_status(force=True)

    async def on_cycle(self) -> None:
        now = await self._now()
        if self.engine is None or now.astimezone(krx.KST).date() != self.day:
            # Start failed, or a new trading day (a process running overnight, the simulator
            # rolling on): a fresh engine for the day, rebuilt from what is stored.
            try:
                await self._start_engine(now)
            except Exception:
                self.stats.errors += 1
                log.exception("strategy: starting the engine failed; retrying next cycle")
                return
        await self._refresh()
        await self._close_bars(now)
        await self._read_conditions()
        await self._check_scan()
        await self._heartbeat()
        await self._push_status()

    async def _start_engine(self, now: dt.datetime) -> None:
        """Build the engine from the active configuration and rebuild its state for `now`'s day."""
        from apps.market.live import LiveBars

        if self._bars is None:
            self._bars = LiveBars()
        else:
            await self._write_bars()  # the bars completed since the last cycle: in the rebuild too
        self.started_at = now
        self.day = now.astimezone(krx.KST).date()
        self.settings = await db_call(feeds.active_settings)
        # Signals a previous process left `new` (killed between the row and the outcome) get theirs.
        flying = frozenset(t.get_name().removeprefix("strategy.signal:") for t in self._tasks)
        await db_call(signals_interrupted_settle, self.day, flying)
        engine = feeds.build_engine(self.settings)
        names = frozenset(self.settings) | {s.name for s in engine.strategies}
        rebuilt = await db_call(rebuild_read, self.day, now, self.top_n, names)
        self.engine = engine
        self._warmed, self._warming = set(), {}
        await self._rebuild(rebuilt, now)

    async def on_gap(self, reason: str) -> None:
        self._warmed.clear()  # ticks were lost: each code's next tick looks for missing minutes
        await self._read_conditions()

    async def on_stop(self) -> None:
        self._unsubscribe_news()
        self._disconnect_conditions()
        if self._pubsub is not None:
            self._pubsub.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pubsub
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        with contextlib.suppress(Exception):
            await self._write_bars()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(heartbeat_clear)
        with contextlib.suppress(Exception):
            payload = await db_call(system_status_payload, False, self.account or None)
            publish_soon("system_status", payload, key="engine")

    def health(self) -> dict[str, Any]:
        out = {k: v for k, v in self.stats.__dict__.items() if k != "by_status"}
        out["signal_status"] = dict(self.stats.by_status)
        out["watched"] = len(self.watched())
        out["strategies"] = [s.name for s in self.engine.strategies] if self.engine else []
        out["in_flight"] = len(self._tasks)
        return out

    # ------------------------------------------------------------------ events
    def on_event(self, event: Any) -> None:
        if isinstance(event, Tick):
            self.on_tick(event)

    def on_tick(self, tick: Tick) -> None:
        if self.engine is None or tick.at is None or not tick.price:
            return
        waiting = self._warming.get(tick.code)
        if waiting is not None:  # its earlier bars come first (`_warm_up`)
            waiting.append(tick)
            return
        if tick.code not in self._warmed and self._warm_first(tick):
            return
        self.stats.ticks += 1
        if self._bars is not None:
            bar = self._bars.on_trade(tick)
            if bar is not None:
                self.feed(bar_event(bar))
        self.feed(
            TickEvent(
                code=tick.code,
                at=tick.at,
                price=tick.price,
                quantity=abs(tick.quantity),
                cumulative_volume=tick.cumulative_volume,
                cumulative_value_krw=tick.cumulative_value_krw,
            )
        )

    def feed(self, event: Event) -> list[Signal]:
        """Hand one event to the engine and send the signals it returns (on the event loop)."""
        if self.engine is None:
            return []
        if isinstance(event, BarEvent):
            self.stats.bars += 1
        try:
            signals = self.engine.on_event(event)
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: the engine failed on %r", event)
            return []
        for signal in signals:
            self._dispatch(signal)
        return signals

    def _dispatch(self, signal: Signal) -> None:
        if self._replay_now is not None and signal.at < self._replay_now - self.fresh:
            self.stats.stale_signals += 1
            log.info("strategy: rebuilt signal %s is stale (%s); not sent", signal.key, signal.at)
            return
        self.stats.signals += 1
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._execute(signal), name=f"strategy.signal:{signal.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, signal: Signal) -> Executed | None:
        try:
            done = await asignal_execute(signal, self._execution_context())
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: executing signal %s failed", signal.key)
            return None
        if done.row_id is None:
            self.stats.duplicates += 1
        else:
            status = str(done.status)
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            if signal.side == "buy" and done.order_id is not None:
                self.held = self.held | {signal.code}
            elif signal.side == "buy" and done.order_id is None and self.engine is not None:
                self.engine.dismiss(signal)  # no order: no exit of a position it never had
        return done

    def _execution_context(self) -> ExecutionContext:
        return ExecutionContext(
            account_no=self.account,
            strategies=self.settings,
            place=self._place(),
            prepare=self._prepare(),
            last_price=self._last_price,
            candidate=self._candidate,
        )

    def _last_price(self, code: str, at: dt.datetime) -> tuple[int, int | None] | None:
        last = self.ctx.prices.at_or_before(code, at)
        if last is None or not last.price:
            return None
        return last.price, (last.price - last.change) or None

    def _candidate(self, code: str) -> tuple[int | None, int | None]:
        for c in self.candidates:
            if c.code == code:
                return c.rank, c.news_score
        return None, None

    def _place(self) -> Any:
        if self.place is not None:
            return self.place
        from apps.trades.realtime_handlers import async_place

        return async_place(self.ctx)

    def _prepare(self) -> Any:
        if self.place is not None:
            return self.options_prepare
        from apps.trades.realtime_handlers import async_prepare

        return async_prepare(self.ctx)

    # ------------------------------------------------------------------ restart
    async def _rebuild(self, rebuilt: Rebuilt, now: dt.datetime) -> None:
        assert self.engine is not None
        self.account = rebuilt.account
        self.held = rebuilt.held
        self.candidates = rebuilt.candidates
        self.engine.mark_fired(rebuilt.fired, dismissed=rebuilt.dismissed)
        if rebuilt.scan is not None or rebuilt.candidates:
            self.scan_id = rebuilt.scan[0] if rebuilt.scan else None
        events = replay_events(rebuilt, now)
        self.last_condition_id = rebuilt.last_condition_id
        self._replay_now = now
        try:
            for event in events:
                self.stats.replayed += 1
                self.feed(event)
        finally:
            self._replay_now = None
        log.info(
            "strategy: engine started with %d strategies; rebuilt from %d event(s), %d signal key(s)",
            len(self.engine.strategies),
            len(events),
            len(rebuilt.fired),
        )

    # ------------------------------------------------------------------ periodic work
    async def _now(self) -> dt.datetime:
        if self._exchange_now is not None:
            return self._exchange_now()
        from apps.broker.backends import exchange_now

        return await asyncio.to_thread(exchange_now)

    async def _refresh(self) -> None:
        """Settings (the strategies' on/off, parameters, budgets) and the held/entered codes."""
        try:
            fresh, account, held = await db_call(refresh_read, self.day, self._names())
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: reading the configuration failed")
            return
        self.account = account
        self.held = held
        if self.engine is not None and fresh and set(fresh) != set(self.settings):
            # A strategy was added or removed: a new engine, rebuilt like at a restart (the fired
            # keys stay fired, the stored bars rebuild the ranges).
            await self._start_engine(await self._now())
        elif self.engine is not None and fresh:
            for strategy in self.engine.strategies:
                new = fresh.get(strategy.name)
                if new is not None and new != strategy.settings:
                    strategy.settings = new
            self.settings = fresh

    def _names(self) -> frozenset[str]:
        names = set(self.settings)
        if self.engine is not None:
            names |= {s.name for s in self.engine.strategies}
        return frozenset(names)

    async def _close_bars(self, now: dt.datetime) -> None:
        if self._bars is None:
            return
        for bar in self._bars.on_clock(now):
            self.feed(bar_event(bar))
        await self._write_bars()

    async def _write_bars(self) -> None:
        if self._bars is None:
            return
        started = self.started_at
        # A bar whose minute began before this process started is partial: never over a stored one.
        done = [b for b in self._bars.take_bars() if started is None or b.end - MINUTE >= started]
        if done:
            await db_call(bars_write, done)

    async def _heartbeat(self) -> None:
        if self.engine is None:
            return  # not running: the key expires (health says so)
        details = {
            "strategies": [s.name for s in self.engine.strategies] if self.engine else [],
            "watched": len(self.watched()),
            "signals": self.stats.signals,
            "day": self.day.isoformat() if self.day else None,
        }
        try:
            await asyncio.to_thread(heartbeat_write, details)
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: writing the engine heartbeat failed")

    async def _push_status(self, *, force: bool = False) -> None:
        try:
            payload = await db_call(
                system_status_payload, self.engine is not None, self.account or None
            )
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: reading the system status failed")
            return
        state = tuple(sorted(payload.items()))
        now = time.monotonic()
        if force or state != self._status_sent or now - self._status_at >= self.status_every:
            self._status_sent, self._status_at = state, now
            publish_soon("system_status", payload, key="engine")

    # ------------------------------------------------------------------ the scanner
    async def _scan_listener(self) -> None:
        """The scanner's pub/sub channel → ScanEvent (reconnecting with backoff)."""
        await listen_scan_channel(self._on_scan_message)

    async def _on_scan_message(self, data: Any) -> None:
        parsed = parse_scan_message(data)
        if parsed is not None:
            await self._scan(*parsed)

    async def _scan(self, snapshot_id: int | None, at: dt.datetime) -> None:
        if snapshot_id is not None and snapshot_id == self.scan_id:
            return  # the message and the cycle's look found the same run
        try:
            candidates = await db_call(feeds.latest_candidates)
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: reading the scan's candidates failed")
            return
        self.scan_id = snapshot_id
        self.candidates = candidates
        self.stats.scans += 1
        self.feed(ScanEvent(at, tuple(candidates), snapshot_id))

    # ------------------------------------------------------------------ a code's first live tick
    def _warm_first(self, tick: Tick) -> bool:
        """The first live tick of a code (in this engine, or since a reconnect): when the minutes
        before it are missing here (a code first watched after the open, ticks subscribed a few
        seconds after the scan, minutes lost while the process or its socket was down), they are
        fetched from the broker's minute chart (ka10080) and fed as bars before this tick and the
        ones that follow it, so its opening range and VWAP are the session's. Fetching at the
        first tick, not when the code is first watched, leaves no hole between the chart and the
        ticks (at speed 60 a subscription a few wall seconds late is minutes of the session).
        True when the tick now waits for the fetch (`_warm_up`)."""
        self._warmed.add(tick.code)
        assert self.engine is not None and tick.at is not None
        if not self.engine.market.missing_before(tick.code, tick.at):
            return False
        self._warming[tick.code] = [tick]
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._warm_up(tick.code), name=f"strategy.warm:{tick.code}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _warm_up(self, code: str) -> None:
        day = self.day
        bars: list[Any] = []
        try:
            if day is not None:
                bars = await day_minute_bars_async(self.ctx.broker, code, day)
        except Exception as exc:
            self.stats.errors += 1
            log.warning("strategy: the minute chart of %s could not be read: %s", code, exc)
        waiting = self._warming.pop(code, [])
        if self.engine is not None and bars:
            # Only whole minutes before its first live tick (the chart's last bar may be partial).
            until = waiting[0].at if waiting else await self._now()
            events = [b for b in bars if until is None or b.end <= until]
            self.stats.warmed_bars += len(events)
            self.engine.warm_up(events)
        for tick in waiting:
            self.on_tick(tick)

    async def _check_scan(self) -> None:
        try:
            meta = await db_call(feeds.latest_scan_meta)
        except Exception:
            self.stats.errors += 1
            log.exception("strategy: reading the latest scan failed")
            return
        if meta is not None and meta[0] != self.scan_id:
            await self._scan(*meta)

    # ------------------------------------------------------------------ news
    def _on_news_item(self, item: Any) -> None:
        """The news app's subscriber (any thread of this process): onto the loop, in order."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            event = feeds.news_event(item)
        except Exception:
            log.exception("strategy: bad news item %r", item)
            return
        loop.call_soon_threadsafe(self._feed_news, event)

    def _feed_news(self, event: Event) -> None:
        self.stats.news += 1
        self.feed(event)

    # ------------------------------------------------------------------ conditions
    def _connect_conditions(self) -> None:
        from apps.conditions.events import condition_entered, condition_exited

        def receiver(sender: Any, **kwargs: Any) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                # A fresh context: the receiver runs in the database thread of a `db_call`, whose
                # context (asgiref's "inside the single thread executor" mark) would otherwise pass
                # to the task, and its own `db_call` would refuse ("would deadlock").
                loop.call_soon_threadsafe(self._poke_conditions, context=contextvars.Context())

        condition_entered.connect(receiver, weak=False, dispatch_uid=f"strategy-{id(self)}-in")
        condition_exited.connect(receiver, weak=False, dispatch_uid=f"strategy-{id(self)}-out")

    def _disconnect_conditions(self) -> None:
        from apps.conditions.events import condition_entered, condition_exited

        condition_entered.disconnect(dispatch_uid=f"strategy-{id(self)}-in")
        condition_exited.disconnect(dispatch_uid=f"strategy-{id(self)}-out")

    def _poke_conditions(self) -> None:
        if self._condition_lock.locked():
            return  # the running read will see it (ids above the last handled), or the next cycle
        task = asyncio.get_running_loop().create_task(self._read_conditions())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_conditions(self) -> None:
        if self.engine is None:
            return
        async with self._condition_lock:
            try:
                rows = await db_call(conditions_after, self.last_condition_id)
            except Exception:
                self.stats.errors += 1
                log.exception("strategy: reading condition events failed")
                return
            for event_id, event in rows:
                self.last_condition_id = max(self.last_condition_id, event_id)
                self.stats.conditions += 1
                self.feed(event)


def strategy_engine(ctx: HubContext) -> StrategyEngineHandler | None:
    """The handler, unless `STRATEGY_ENGINE_ENABLED` (or the hub's `strategy_engine` option) is off."""
    enabled = ctx.options.get("strategy_engine", _setting("STRATEGY_ENGINE_ENABLED", True))
    return StrategyEngineHandler(ctx) if enabled else None


register("strategy.engine", strategy_engine)
