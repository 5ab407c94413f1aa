"""The trades handler of the realtime hub (`apps.realtime`): order (00) and balance (04) events.

- subscribes the account's order/balance events;
- a 00 frame becomes a `BrokerOrderReport` and goes through `services.report_apply` — the same
  idempotent path as the poll and reconciliation, keyed on the order's cumulative filled quantity;
- a frame for an order number we do not know yet (the reply to the place call is still on its way)
  waits and is retried with the next events and every cycle, for `UNMATCHED_TTL_SECONDS`; what is left
  after that, reconciliation picks up;
- a 04 frame records the position's current price (display only: quantities change with fills alone);
- reconciles once the socket is up (process start) and after every gap (a reconnect, dropped frames);
- `submit(intent)`: the low-latency executor path for strategy entries and risk exits in this process
  (the async REST client of the live feed, the same executor code as the orders queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from django import db

from apps.broker.contract import BalanceEvent, OrderEvent
from apps.realtime.handlers import Handler, HubContext, Wants, db_call, register

from . import services
from .models import Order, Position, ReconcileTrigger
from .services.executor import aorder_db_close

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
    events = (OrderEvent, BalanceEvent)

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.stats = TradesStats()
        self._pending: list[tuple[float, services.BrokerOrderReport]] = []
        self._reconcile_lock = asyncio.Lock()

    async def wants(self) -> Wants:
        return Wants(account=True)

    async def on_start(self, ctx: HubContext) -> None:
        self.ctx = ctx
        # Off the control task: a slow broker must not hold the hub up.
        asyncio.get_running_loop().create_task(self.reconcile(ReconcileTrigger.STARTUP))

    async def on_gap(self, reason: str) -> None:
        await self.reconcile(ReconcileTrigger.RECONNECT)

    async def on_cycle(self) -> None:
        await self._retry_pending()

    async def on_stop(self) -> None:
        await self._retry_pending()
        await aorder_db_close()

    def health(self) -> dict[str, Any]:
        return {**self.stats.__dict__, "pending": len(self._pending)}

    # ------------------------------------------------------------------ events
    async def on_event(self, event: Any) -> None:
        if isinstance(event, OrderEvent):
            self.stats.order_events += 1
            await self._apply(services.report_from_event(event), first=True)
            if self._pending:
                await self._retry_pending()
        elif isinstance(event, BalanceEvent) and event.current_price:
            await db_call(_mark_price, event.code, event.current_price)

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
        return await services.aorder_submit(intent, async_place(self.ctx))


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


def _mark_price(code: str, price: int) -> None:
    Position.objects.filter(code=code, quantity__gt=0).update(current_price=price)


register("trades", TradesHandler)
