"""The risk handlers of the realtime hub: exits on live prices (stop-loss, trailing, take-profit, time
exit), below, and the VI state (`risk.vi`, `apps.risk.vi_handler`).

- wants the 0B ticks of every open position of the active account (re-read every cycle and after each
  00 frame, like the trades handler) and the account's 00 frames (an exit's end or a fill changes what
  is held);
- each tick of a held code updates the position's highest price since entry and runs the pure evaluator
  (`apps.risk.exits.evaluate`) with the tick's exchange time; a timer on the exchange clock runs it
  without ticks, so the time exit before the close fires on a quiet stock too;
- a decision sends ONE sell of the whole sellable quantity through the executor's async path
  (`aorder_submit`, cause `risk`, `cause_ref` the exit kind) at a marketable limit price (`RISK_EXIT_
  SLIPPAGE_PCT` below the trigger price, within the day's lower limit). Never twice for one position: an
  in-memory in-flight marker per code (set before the order is created, cleared only when the order has
  ended) and the executor's reservation of sellable quantity under a row lock (a second sell finds
  nothing left to reserve, also across a restart, when the open exit order still holds the shares);
- a refused, rejected or cancelled exit may be retried after a backoff (`RISK_EXIT_RETRY_BASE_SECONDS`
  × 2ⁿ, at most `RISK_EXIT_RETRY_MAX_SECONDS`); after a partial fill the remainder is the new sellable
  quantity and the next tick (or the timer) exits it; an exit left resting while the market trades under
  its limit is cancelled after `RISK_EXIT_CHASE_SECONDS` and its remainder sent again at the new price;
- the highest price since entry is kept in Redis (`risk:high:<account>` hash, code → "high|entry time"),
  written once per cycle for the codes whose high rose, read back at start: a restart of the realtime
  process loses at most one cycle of highs (the hub's `REALTIME_RESYNC_SECONDS`). A stored high of an
  earlier position in the same code (another entry time) is ignored;
- once a cycle, each position's stop price (`Position.stop_price`: the stop-loss or the trailing stop
  from the high since entry, `apps.risk.exits.effective_stop`) is recomputed from those highs and the
  policy in force, and the ones that moved are written in one short transaction on the database thread
  with a `position_update` after commit (`apps.risk.stops`): never per tick, never on the order path.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings

import krx
from apps.broker.contract import OrderEvent, Tick
from apps.realtime.handlers import Handler, HubContext, Wants, db_call, register
from apps.trades.models import FINAL_STATUSES, Cause, Order, OrderStatus, OrderType, Position
from apps.trades.services import OrderIntent, OrderRefused, aorder_submit
from apps.trades.services.executor import default_account

from .exits import ExitDecision, HeldPosition, chase_due, evaluate, exit_limit_price, time_exit_at
from .policy import exit_policy
from .services.state import evaluate_on_prices
from .stops import entry_text as _entry_text
from .stops import high_key, parse_high, stop_changes, stops_write
from .vi_handler import RiskViHandler

log = logging.getLogger(__name__)

TIMER_MAX_SLEEP = 1.0  # wall seconds between two looks at the exchange clock without ticks


@dataclass(frozen=True)
class Held:
    code: str
    quantity: int
    reserved: int
    avg_price: Decimal
    entry_time: dt.datetime | None
    market: str
    strategy_tag: str
    current_price: int | None
    stop_price: int | None = None

    @property
    def sellable(self) -> int:
        return self.quantity - self.reserved


@dataclass
class Exit:
    """The exit of one code in flight (or waiting for its retry)."""

    order_id: uuid.UUID | None = None
    attempts: int = 0
    retry_at: float = 0.0  # monotonic; 0: may go at once
    sending: bool = False
    price: int | None = None  # the resting exit's limit price
    sent_at: float = 0.0  # monotonic
    chasing: bool = False  # its cancel is on the way (the price fell under its limit)
    chased: bool = False  # it was cancelled to be sent again at the new price: no backoff


@dataclass
class RiskStats:
    ticks: int = 0
    exits_sent: int = 0
    exits_refused: int = 0
    exits_retried: int = 0
    exits_chased: int = 0
    time_checks: int = 0
    loss_state_changes: int = 0
    stops_saved: int = 0
    errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _settings(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


class RiskExitsHandler(Handler):
    name = "risk.exits"
    events = (Tick, OrderEvent)
    queue_size = 100_000

    def __init__(
        self,
        ctx: HubContext,
        *,
        clock: Callable[[], float] = time.monotonic,
        exchange_reading: Callable[[], tuple[dt.datetime, float]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.stats = RiskStats()
        self.account = ""
        self.held: dict[str, Held] = {}
        self.highs: dict[str, int] = {}
        self.last_prices: dict[str, int] = {}
        self.exits: dict[str, Exit] = {}
        self._dirty_highs: set[str] = set()
        self._clock = clock
        self._exchange_reading = exchange_reading
        self._sessions: dict[dt.date, tuple[dt.datetime, dt.datetime] | None] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()
        options = ctx.options
        self.slippage = Decimal(
            str(options.get("risk_exit_slippage_pct", _settings("RISK_EXIT_SLIPPAGE_PCT", "1")))
        )
        self.retry_base = float(
            options.get("risk_exit_retry_base", _settings("RISK_EXIT_RETRY_BASE_SECONDS", 1.0))
        )
        self.retry_max = float(
            options.get("risk_exit_retry_max", _settings("RISK_EXIT_RETRY_MAX_SECONDS", 60.0))
        )
        self.chase_seconds = float(
            options.get("risk_exit_chase", _settings("RISK_EXIT_CHASE_SECONDS", 3.0))
        )
        self.place = options.get("risk_place")  # tests/benches: the async place call
        self.options_prepare = options.get("risk_prepare")  # with it: the slot taken early
        self.cancel = options.get("risk_cancel")  # tests: the sync cancel call

    # ------------------------------------------------------------------ hub hooks
    async def wants(self) -> Wants:
        return Wants(ticks=frozenset(self.held), account=True)

    async def on_start(self, ctx: HubContext) -> None:
        self.ctx = ctx
        await self.refresh()
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(
                self._time_loop(), name="risk.timer"
            )

    async def on_cycle(self) -> None:
        await self.refresh()
        await self.persist_highs()
        await self.persist_stops()
        await self.loss_check()

    async def persist_stops(self) -> None:
        """Write the stop prices that moved (the trailing high rose, the policy or an average changed)."""
        if not self.account or not self.held:
            return
        try:
            now, _speed = await self._reading()
            day = now.astimezone(krx.KST).date()
            changes = stop_changes(self.held.values(), self.highs, exit_policy(), day)
            if changes:
                self.stats.stops_saved += len(await db_call(stops_write, self.account, changes))
        except Exception:
            self.stats.errors += 1
            log.exception("risk: writing the stop prices failed")

    async def loss_check(self) -> None:
        """The daily-loss states on the current marks (unrealised P&L moves without fills): once a
        cycle while positions are held, at the exchange's time."""
        if not self.account or not self.held:
            return
        try:
            now, _speed = await self._reading()
            event = await db_call(evaluate_on_prices, self.account, now)
        except Exception:
            log.exception("the daily-loss evaluation on prices failed")
            return
        if event is not None:
            self.stats.loss_state_changes += 1

    async def on_gap(self, reason: str) -> None:
        await self.refresh()

    async def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.persist_highs()

    def health(self) -> dict[str, Any]:
        stats = dict(self.stats.__dict__)
        stats["held"] = len(self.held)
        stats["in_flight"] = sum(1 for e in self.exits.values() if e.order_id or e.sending)
        return stats

    # ------------------------------------------------------------------ positions
    async def refresh(self) -> None:
        """Re-read the open positions and the state of the exits in flight."""
        async with self._refresh_lock:
            try:
                account, held, ended = await db_call(
                    _read_state, {c: e.order_id for c, e in self.exits.items() if e.order_id}
                )
            except Exception:
                self.stats.errors += 1
                log.exception("risk: reading the open positions failed")
                return
            new = [c for c in held if c not in self.held or held[c].entry_time != _entry(self, c)]
            self.account, self.held = account, held
            for code, status in ended.items():
                self._ended(code, status)
            for code in list(self.exits):
                if code not in held and not self.exits[code].sending:
                    self.exits.pop(code)
            for code in list(self.highs):
                if code not in held:
                    self.highs.pop(code)
            if new:
                await self._load_highs(new)

    def _ended(self, code: str, status: str) -> None:
        exit_ = self.exits.get(code)
        if exit_ is None:
            return
        exit_.order_id = None
        exit_.price = None
        if status == OrderStatus.FILLED or (exit_.chased and status == OrderStatus.CANCELLED):
            exit_.attempts = 0
            exit_.retry_at = 0.0
            exit_.chased = False
        else:  # rejected, cancelled, expired: try again later (a partial fill: the remainder)
            self._backoff(exit_)

    def _backoff(self, exit_: Exit) -> None:
        exit_.attempts += 1
        delay = min(self.retry_base * 2 ** (exit_.attempts - 1), self.retry_max)
        exit_.retry_at = self._clock() + delay

    # ------------------------------------------------------------------ events
    async def on_event(self, event: Any) -> None:
        if isinstance(event, Tick):
            self.on_tick(event)
        elif isinstance(event, OrderEvent):
            await self.refresh()

    def on_tick(self, tick: Tick) -> None:
        held = self.held.get(tick.code)
        price = tick.price
        if held is None or not price or tick.at is None:
            return
        self.stats.ticks += 1
        self.last_prices[tick.code] = price
        high = self.highs.get(tick.code)
        if high is None or price > high:
            self.highs[tick.code] = price
            self._dirty_highs.add(tick.code)
        hours = self._hours(tick.at)
        if hours is None or not hours[0] <= tick.at < hours[1]:
            return  # outside the regular session (after-hours prints): no exit orders
        exit_ = self.exits.get(tick.code)
        if exit_ is not None and exit_.order_id is not None:
            self._maybe_chase(tick.code, exit_, price)
            return
        decision = evaluate(
            HeldPosition(tick.code, held.sellable, held.avg_price, high, held.entry_time),
            price,
            tick.at,
            hours[1],
            exit_policy(),
        )
        if decision is not None:
            day = tick.at.astimezone(krx.KST).date()
            lower = krx.price_limits(price - tick.change, _market(held), day)[0]
            self.fire(held, decision, lower, day)

    def fire(
        self, held: Held, decision: ExitDecision, lower_limit: int | None, day: dt.date
    ) -> bool:
        """Send the exit of `held` unless one is in flight or waiting for its retry."""
        exit_ = self.exits.setdefault(held.code, Exit())
        if exit_.sending or exit_.order_id is not None or held.sellable <= 0:
            return False
        if exit_.retry_at and self._clock() < exit_.retry_at:
            return False
        if exit_.attempts:
            self.stats.exits_retried += 1
        exit_.sending = True  # the marker, before anything awaits
        intent = self._intent(held, decision, lower_limit, day)
        task = asyncio.get_running_loop().create_task(self._send(held, decision, intent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _send(self, held: Held, decision: ExitDecision, intent: OrderIntent) -> None:
        exit_ = self.exits[held.code]
        try:
            order = await aorder_submit(intent, self._place(), prepare=self._prepare())
        except OrderRefused as exc:
            self.stats.exits_refused += 1
            log.warning("risk: %s exit of %s refused: %s", decision.kind, held.code, exc.reason)
            self._backoff(exit_)
            exit_.sending = False
            return
        except Exception:
            self.stats.errors += 1
            log.exception("risk: %s exit of %s failed", decision.kind, held.code)
            self._backoff(exit_)
            exit_.sending = False
            return
        self.stats.exits_sent += 1
        self.stats.by_kind[decision.kind] = self.stats.by_kind.get(decision.kind, 0) + 1
        log.info(
            "risk: %s → sell %d %s (%s)", decision.reason, intent.quantity, held.code, order.pk
        )
        exit_.sending = False
        if order.status in FINAL_STATUSES:
            exit_.order_id = order.pk
            self._ended(held.code, order.status)
        else:
            exit_.order_id = order.pk
            exit_.price = intent.price
            exit_.sent_at = self._clock()

    def _maybe_chase(self, code: str, exit_: Exit, price: int) -> None:
        """The market fell under a resting exit's limit: after `RISK_EXIT_CHASE_SECONDS` cancel it, so
        the next tick sends the remainder again at the new price (no backoff for that)."""
        if exit_.chasing or not chase_due(
            exit_.price, price, self._clock() - exit_.sent_at, self.chase_seconds
        ):
            return
        exit_.chasing = True
        order_id = exit_.order_id
        task = asyncio.get_running_loop().create_task(self._chase(code, exit_, order_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _chase(self, code: str, exit_: Exit, order_id: uuid.UUID | None) -> None:
        cancel = self.cancel or self.ctx.broker.cancel_order
        try:
            await asyncio.to_thread(_cancel_in_thread, order_id, cancel)
            exit_.chased = True
            self.stats.exits_chased += 1
        except OrderRefused as exc:  # filled or not yet acknowledged: the next refresh says
            log.info("risk: exit %s of %s not cancelled: %s", order_id, code, exc.reason)
        except Exception:
            self.stats.errors += 1
            log.exception("risk: cancelling exit %s of %s failed", order_id, code)
        finally:
            exit_.chasing = False
        await self.refresh()

    def _intent(
        self, held: Held, decision: ExitDecision, lower_limit: int | None, day: dt.date
    ) -> OrderIntent:
        reference = decision.price or held.current_price or 0
        if reference:
            price: int | None = exit_limit_price(
                reference, self.slippage, lower_limit, _market(held), day
            )
            order_type = OrderType.LIMIT
        else:  # no price known at all (the timer on a stock without ticks): a market order
            price, order_type = None, OrderType.MARKET
        return OrderIntent(
            code=held.code,
            side="sell",
            quantity=held.sellable,
            order_type=order_type,
            price=price,
            account_no=self.account,
            strategy_tag=held.strategy_tag,
            cause=Cause.RISK,
            cause_ref=str(decision.kind),
            reference_price=reference or None,
            extra={"reason": decision.reason},
        )

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

    # ------------------------------------------------------------------ the exchange clock
    def _hours(self, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
        """(open, close) of the regular session of `moment`'s day by the KRX calendar (수능 days
        included); None on a day without trading."""
        day = moment.astimezone(krx.KST).date()
        if day not in self._sessions:
            from krx.calendar import NotATradingDay, session

            try:
                found = session(day)
                self._sessions[day] = (found.open, found.close)
            except NotATradingDay:
                self._sessions[day] = None
        return self._sessions[day]

    async def _reading(self) -> tuple[dt.datetime, float]:
        if self._exchange_reading is not None:
            return self._exchange_reading()
        from apps.broker.backends import exchange_clock

        return await asyncio.to_thread(lambda: exchange_clock().reading())

    async def time_check(self) -> float:
        """Run the evaluator on every held position at the exchange's current time (the time exit
        without ticks). Returns the wall seconds until the next look."""
        self.stats.time_checks += 1
        now, speed = await self._reading()
        hours = self._hours(now)
        close = hours[1] if hours else None
        policy = exit_policy()
        day = now.astimezone(krx.KST).date()
        for held in list(self.held.values()):
            last = self.ctx.prices.at_or_before(held.code, now)
            price = last.price if last else held.current_price
            lower = (
                krx.price_limits(last.price - last.change, _market(held), day)[0] if last else None
            )
            decision = evaluate(
                HeldPosition(
                    held.code,
                    held.sellable,
                    held.avg_price,
                    self.highs.get(held.code),
                    held.entry_time,
                ),
                None,
                now,
                close,
                policy,
            )
            if decision is not None:
                if price:
                    decision = ExitDecision(decision.kind, decision.reason, price, None)
                self.fire(held, decision, lower, day)
        at = time_exit_at(close, policy)
        if at is None or now >= at or speed <= 0:
            return TIMER_MAX_SLEEP
        return max(min((at - now).total_seconds() / speed, TIMER_MAX_SLEEP), 0.01)

    async def _time_loop(self) -> None:
        while True:
            try:
                wait = await self.time_check()
            except Exception:
                self.stats.errors += 1
                log.exception("risk: the time-exit timer failed")
                wait = TIMER_MAX_SLEEP
            await asyncio.sleep(wait)

    # ------------------------------------------------------------------ highs in Redis
    def _high_key(self) -> str:
        return high_key(self.account)

    async def _load_highs(self, codes: list[str]) -> None:
        try:
            stored = await asyncio.to_thread(_redis_hmget, self._high_key(), codes)
        except Exception:
            self.stats.errors += 1
            log.exception("risk: reading the highs since entry failed")
            return
        for code, raw in zip(codes, stored, strict=True):
            high = parse_high(raw, self.held[code].entry_time)
            if high is not None:
                self.highs[code] = max(high, self.highs.get(code, 0))

    async def persist_highs(self) -> None:
        dirty, self._dirty_highs = self._dirty_highs, set()
        values = {
            code: f"{self.highs[code]}|{_entry_text(self.held[code].entry_time)}"
            for code in dirty
            if code in self.highs and code in self.held
        }
        closed = [c for c in dirty if c not in self.held]
        if not values and not closed:
            return
        try:
            await asyncio.to_thread(_redis_write, self._high_key(), values, closed)
        except Exception:
            self.stats.errors += 1
            log.exception("risk: writing the highs since entry failed")


def _cancel_in_thread(order_id: uuid.UUID | None, cancel: Any) -> None:
    from django import db

    from apps.trades.services import order_cancel

    try:
        db.close_old_connections()
        order_cancel(order_id, cause="risk:chase", cancel=cancel)
    finally:
        db.connection.close()


def _entry(handler: RiskExitsHandler, code: str) -> dt.datetime | None:
    held = handler.held.get(code)
    return held.entry_time if held else None


def _market(held: Held) -> str:
    return held.market if held.market in krx.Market.__members__ else krx.Market.KOSPI.value


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def _redis_hmget(key: str, codes: list[str]) -> list[bytes | None]:
    client = _redis()
    try:
        return client.hmget(key, codes)
    finally:
        client.close()


def _redis_write(key: str, values: dict[str, str], closed: list[str]) -> None:
    client = _redis()
    try:
        pipe = client.pipeline()
        if values:
            pipe.hset(key, mapping=values)
        if closed:
            pipe.hdel(key, *closed)
        pipe.expire(key, 7 * 24 * 3600)
        pipe.execute()
    finally:
        client.close()


def _read_state(
    in_flight: dict[str, uuid.UUID],
) -> tuple[str, dict[str, Held], dict[str, str]]:
    """The active account, its open positions, and which exits in flight have ended (database thread)."""
    account = default_account()
    rows = Position.objects.filter(account_no=account, quantity__gt=0).values_list(
        "code",
        "quantity",
        "reserved",
        "avg_price",
        "entry_time",
        "market",
        "strategy_tag",
        "current_price",
        "stop_price",
    )
    held = {row[0]: Held(*row) for row in rows}
    ended: dict[str, str] = {}
    if in_flight:
        statuses = dict(
            Order.objects.filter(pk__in=list(in_flight.values())).values_list("pk", "status")
        )
        for code, order_id in in_flight.items():
            status = statuses.get(order_id)
            if status in FINAL_STATUSES:
                ended[code] = status
    return account, held, ended


register("risk.exits", RiskExitsHandler)
register("risk.vi", RiskViHandler)
