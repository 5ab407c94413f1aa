"""The trades handler of the realtime hub (`apps.realtime`): order (00) and balance (04) events.

- subscribes the account's order/balance events;
- a 00 frame becomes a `BrokerOrderReport` and goes through `services.report_apply` — the same
  idempotent path as the poll and reconciliation, keyed on the order's cumulative filled quantity;
- a frame for an order number we do not know yet (the reply to the place call is still on its way)
  waits and is retried with the next events and every cycle, for `UNMATCHED_TTL_SECONDS`; what is left
  after that, reconciliation picks up;
- a 04 frame records the position's current price (display only: quantities change with fills alone);
- wants the 0B ticks of the active account's open positions (re-read every cycle and after each fill)
  and hands them to `live_prices.LivePrices`: throttled `price_update` / `position_update` on /ws/live
  and `Position.current_price` written every `TRADES_PRICE_PERSIST_SECONDS`;
- reconciles once the socket is up (process start) and after every gap (a reconnect, dropped frames);
- `submit(intent)`: the low-latency executor path for strategy entries and risk exits in this process
  (the async REST client of the live feed, the same executor code as the orders queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import db
from django.conf import settings

from apps.broker.contract import BalanceEvent, OrderEvent, Tick
from apps.realtime.handlers import Handler, HubContext, Wants, db_call, register

from . import services
from .live_prices import LivePrices, Publish, held_positions, save_prices
from .models import Order, Position, ReconcileTrigger
from .services import orderconn
from .services.aorder import aorder_db_close
from .services.executor import default_account

log = logging.getLogger(__name__)

UNMATCHED_TTL_SECONDS = 60.0


@dataclass
class TradesStats:
    order_events: int = 0
    applied: int = 0
    unmatched: int = 0
    expired: int = 0
    reconciles: int = 0
    errors: int = 0


class TradesHandler(Handler):
    name = "trades"
    events = (OrderEvent, BalanceEvent, Tick)
    # Ticks of the held codes share this queue with the 00 frames; on_tick is cheap.
    queue_size = 100_000

    def __init__(
        self,
        ctx: HubContext,
        *,
        publish: Publish | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.stats = TradesStats()
        self._pending: list[tuple[float, services.BrokerOrderReport]] = []
        self._reconcile_lock = asyncio.Lock()
        options = ctx.options
        push_ms = options.get("price_push_ms", settings.TRADES_PRICE_PUSH_MS)
        self.persist_seconds = float(
            options.get("price_persist_seconds", settings.TRADES_PRICE_PERSIST_SECONDS)
        )
        extra = {} if publish is None else {"publish": publish}
        self.prices = LivePrices(push_seconds=push_ms / 1000, clock=clock, **extra)
        self._clock = clock
        self._persisted_at = clock()
        self._started: tuple[asyncio.Task[None], ...] = ()

    async def wants(self) -> Wants:
        return Wants(ticks=self.prices.codes(), account=True)

    async def on_start(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.prices.start()
        # Off the control task: a slow broker must not hold the hub up.
        loop = asyncio.get_running_loop()
        self._started = (
            loop.create_task(self.reconcile(ReconcileTrigger.STARTUP)),
            loop.create_task(self.refresh_holdings()),
        )

    async def on_gap(self, reason: str) -> None:
        await self.reconcile(ReconcileTrigger.RECONNECT)

    async def on_cycle(self) -> None:
        await self._retry_pending()
        await self.refresh_holdings()
        if self._clock() - self._persisted_at >= self.persist_seconds:
            await self.persist_prices()
        await orderconn.refresh()  # changes made elsewhere (another process, a trader's edit)

    async def on_stop(self) -> None:
        await self._retry_pending()
        await self.prices.stop()
        await self.persist_prices()
        await aorder_db_close()

    def health(self) -> dict[str, Any]:
        return {
            **self.stats.__dict__,
            "pending": len(self._pending),
            "held": len(self.prices.holdings),
            **{f"prices_{k}": v for k, v in self.prices.stats.__dict__.items()},
        }

    # ------------------------------------------------------------------ live prices
    async def refresh_holdings(self) -> None:
        """Re-read the open positions: their codes are the ticks `wants()` asks for next cycle."""
        try:
            held = await db_call(_held_positions)
        except Exception:
            self.stats.errors += 1
            log.exception("trades: reading the open positions failed")
            return
        self.prices.set_holdings(held)

    async def persist_prices(self) -> None:
        self._persisted_at = self._clock()
        prices = self.prices.take_unsaved()
        if not prices:
            return
        try:
            self.prices.stats.saved += await db_call(save_prices, prices)
        except Exception:
            self.stats.errors += 1
            log.exception("trades: writing the live prices failed")

    # ------------------------------------------------------------------ events
    async def on_event(self, event: Any) -> None:
        if isinstance(event, Tick):
            self.prices.on_tick(event)
        elif isinstance(event, OrderEvent):
            self.stats.order_events += 1
            applied = await self._apply(services.report_from_event(event), first=True)
            if self._pending:
                await self._retry_pending()
            if applied:  # a fill may open or close a position: its ticks follow within a cycle
                await self.refresh_holdings()
                await orderconn.refresh()  # the next order's single round trip (`aorder`)
        elif isinstance(event, BalanceEvent) and event.current_price:
            await db_call(_mark_price, event.code, event.current_price)
            await orderconn.refresh()

    async def _apply(self, report: services.BrokerOrderReport, *, first: bool) -> bool:
        try:
            applied = await db_call(services.report_apply, report)
        except Exception:
            self.stats.errors += 1
            log.exception("trades: applying the 00 frame of order %s failed", report.order_no)
            return True  # reconciliation repairs it; retrying the same error helps nobody
        if applied is services.Applied.UNMATCHED:
            if first:
                self.stats.unmatched += 1
                self._pending.append((time.monotonic(), report))
            return False
        self.stats.applied += 1
        return True

    async def _retry_pending(self) -> None:
        pending, self._pending = self._pending, []
        now = time.monotonic()
        for since, report in pending:
            if await self._apply(report, first=False):
                continue
            if now - since < UNMATCHED_TTL_SECONDS:
                self._pending.append((since, report))
            else:
                self.stats.expired += 1
                log.warning("trades: 00 frame of unknown order %s dropped", report.order_no)

    # ------------------------------------------------------------------ reconciliation
    async def reconcile(self, trigger: str) -> None:
        async with self._reconcile_lock:
            self.stats.reconciles += 1
            try:
                await asyncio.to_thread(_reconcile_in_thread, self.ctx.broker, trigger)
            except Exception:
                self.stats.errors += 1
                log.exception("trades: reconciliation (%s) failed", trigger)

    # ------------------------------------------------------------------ the low-latency executor path
    async def submit(self, intent: services.OrderIntent) -> Order:
        return await services.aorder_submit(
            intent, async_place(self.ctx), prepare=async_prepare(self.ctx)
        )


def async_prepare(ctx: HubContext) -> Any:
    """The async REST client's `order_slot` (the slot and token taken while the row commits), or
    None without one (the sync broker in a thread takes them itself)."""
    rest = getattr(ctx.feed, "_rest", None)
    return getattr(rest, "order_slot", None) if rest is not None else None


def async_place(ctx: HubContext) -> Any:
    """The live feed's async REST client when there is one (the same event loop: no thread hop);
    otherwise the sync broker in a thread."""
    rest = getattr(ctx.feed, "_rest", None)
    if rest is not None and hasattr(rest, "place_order"):
        return rest.place_order

    async def place(**kwargs: Any) -> Any:
        return await asyncio.to_thread(ctx.broker.place_order, **kwargs)

    return place


def _reconcile_in_thread(broker: Any, trigger: str) -> None:
    try:
        services.reconcile(broker, trigger=trigger)
    finally:
        db.connection.close()


def _held_positions() -> dict[str, Any]:
    return held_positions(default_account())


def _mark_price(code: str, price: int) -> None:
    Position.objects.filter(code=code, quantity__gt=0).update(current_price=price)


register("trades", TradesHandler)
