"""Live prices of held positions in the realtime hub: 0B ticks → `price_update` / `position_update` on
/ws/live (seed 004 §8.3) and `Position.current_price` in the database.

`LivePrices` is owned by the trades handler (`realtime_handlers.TradesHandler`):

- `holdings` are the active account's open positions (code → quantity and cost), re-read by the
  handler every cycle and after each fill; their codes are the 0B ticks the handler wants;
- `on_tick` only records the last price and cumulative volume (cheap, on the handler's task);
- a pump task of its own publishes, per code, at most once per `push_seconds`
  (`TRADES_PRICE_PUSH_MS`): the first tick at once, the later ones of the window coalesced into one
  push of the latest values when the window ends. The pushes go to the process's background
  publisher (`apps.core.live.publish_soon`: the same ordered queue as the books' after-fill pushes), so
  a slow channel layer delays no task on the hub's loop;
- `persist` writes the prices that changed since the last write in one UPDATE; the handler calls it
  at most every `persist_seconds` (`TRADES_PRICE_PERSIST_SECONDS`) and at shutdown — never per tick.

The `pnl` of `position_update` is the unrealised P&L before exit costs, the same figure as
`Position.unrealized_pnl`, the positions page and `GET /api/v1/account/positions`:
price × quantity − (cost of the shares held + their buy commission).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, Value, When

from apps.broker.contract import Tick
from apps.core.live import apublish_soon

from .models import Position

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Holding:
    qty: int
    cost: int  # cost_amount + cost_fees of the shares held

    def pnl(self, price: int) -> int:
        return price * self.qty - self.cost


@dataclass
class _Mark:
    price: int
    volume: int
    pushed_at: float | None = None
    unpushed: bool = True
    unsaved: bool = True


@dataclass
class LivePricesStats:
    ticks: int = 0
    price_updates: int = 0
    position_updates: int = 0
    saved: int = 0
    errors: int = 0


class LivePrices:
    def __init__(
        self,
        *,
        push_seconds: float,
        publish: Publish = apublish_soon,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.push_seconds = push_seconds
        self.publish = publish
        self.clock = clock
        self.holdings: dict[str, Holding] = {}
        self.marks: dict[str, _Mark] = {}
        self.stats = LivePricesStats()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ holdings
    def codes(self) -> frozenset[str]:
        return frozenset(self.holdings)

    def set_holdings(self, holdings: Mapping[str, Holding]) -> None:
        """Replace the held positions; a code no longer held loses its mark (no push for it)."""
        before, self.holdings = self.holdings, dict(holdings)
        for code, mark in list(self.marks.items()):
            if code not in self.holdings:
                del self.marks[code]  # closed: nothing to push, and no open row to write a price to
            elif before.get(code) != self.holdings[code]:
                mark.unpushed = True  # a fill changed the quantity or cost: push the new pnl
                self._wake.set()

    # ------------------------------------------------------------------ ticks
    def on_tick(self, tick: Tick) -> None:
        if tick.price is None or tick.code not in self.holdings:
            return
        self.stats.ticks += 1
        mark = self.marks.get(tick.code)
        if mark is None:
            self.marks[tick.code] = _Mark(tick.price, tick.cumulative_volume)
        else:
            mark.price, mark.volume = tick.price, tick.cumulative_volume
            mark.unpushed = mark.unsaved = True
        self._wake.set()

    # ------------------------------------------------------------------ pushes
    async def publish_due(self) -> float | None:
        """Publish every code whose window is over; return the seconds until the next one is due
        (None: nothing waits)."""
        now = self.clock()
        next_in: float | None = None
        for code, mark in list(self.marks.items()):
            holding = self.holdings.get(code)
            if not mark.unpushed or holding is None:
                continue
            if mark.pushed_at is not None and now - mark.pushed_at < self.push_seconds:
                wait = self.push_seconds - (now - mark.pushed_at)
                next_in = wait if next_in is None else min(next_in, wait)
                continue
            mark.pushed_at, mark.unpushed = now, False
            await self._send(
                "price_update", {"code": code, "price": mark.price, "volume": mark.volume}
            )
            self.stats.price_updates += 1
            await self._send(
                "position_update",
                {"code": code, "qty": holding.qty, "pnl": holding.pnl(mark.price)},
            )
            self.stats.position_updates += 1
        return next_in

    async def _send(self, event_type: str, data: dict[str, Any]) -> None:
        try:
            await self.publish(event_type, data)
        except Exception:
            self.stats.errors += 1
            log.exception("trades: live %s of %s failed", event_type, data.get("code"))

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._pump(), name="trades.prices")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                next_in = await self.publish_due()
            except Exception:  # never let the pump die: the next tick would not be pushed
                self.stats.errors += 1
                log.exception("trades: live price push failed")
                next_in = self.push_seconds
            if next_in is not None:
                await asyncio.sleep(next_in)
                self._wake.set()

    # ------------------------------------------------------------------ persistence
    def take_unsaved(self) -> dict[str, int]:
        """The prices changed since the last write (marked saved: a failed write is not retried; the
        next tick brings a newer price anyway)."""
        out: dict[str, int] = {}
        for code, mark in self.marks.items():
            if mark.unsaved:
                out[code] = mark.price
                mark.unsaved = False
        return out


def held_positions(account_no: str) -> dict[str, Holding]:
    """The open positions of `account_no`, code → quantity and cost (database thread)."""
    rows = Position.objects.filter(account_no=account_no, quantity__gt=0).values_list(
        "code", "quantity", "cost_amount", "cost_fees"
    )
    return {code: Holding(qty, amount + fees) for code, qty, amount, fees in rows}


def save_prices(prices: Mapping[str, int]) -> int:
    """`Position.current_price` of every open position in these codes, in one UPDATE (database
    thread). Every account holding the code gets it: a price is the market's, not the account's."""
    if not prices:
        return 0
    price = Case(
        *(When(code=code, then=Value(p)) for code, p in prices.items()),
        output_field=IntegerField(),
    )
    return Position.objects.filter(code__in=list(prices), quantity__gt=0).update(
        current_price=price
    )
