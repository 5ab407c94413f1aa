"""The hub's last-price cache: the recent 0B ticks per code, fed by the dispatcher, read by handlers.

Only codes some handler subscribed ticks for are here (the hub never subscribes ticks for the cache
alone). The dispatcher keeps the tick events themselves (decoding nothing: it runs for every frame);
a reader asks for the last trade at or before a moment, e.g. the exchange time of a 02 condition frame,
and gets the price, change and rate of that trade, or None when the cache cannot say (no tick of the code
yet, or every kept tick is later than the moment). The cache is cleared after a reconnect: a tick from
before a gap is not the price after it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from apps.broker.contract import Tick

DEPTH = 64  # ticks kept per code: a few seconds of a busy stock, enough to look back past a batch window


@dataclass(frozen=True, slots=True)
class TickPrice:
    price: int
    change: int  # 전일대비, KRW
    change_rate: Decimal | None
    at: datetime  # the trade's exchange time


class LastPrices:
    def __init__(self, depth: int = DEPTH) -> None:
        self.depth = depth
        self._ticks: dict[str, deque[Tick]] = {}

    def record(self, code: str, tick: Tick) -> None:
        ticks = self._ticks.get(code)
        if ticks is None:
            ticks = self._ticks[code] = deque(maxlen=self.depth)
        ticks.append(tick)

    def clear(self) -> None:
        self._ticks.clear()

    def __contains__(self, code: object) -> bool:
        return code in self._ticks

    def at_or_before(self, code: str, at: datetime) -> TickPrice | None:
        """The last trade of `code` at or before `at`, if the cache has it."""
        for tick in reversed(self._ticks.get(code, ())):
            tick_at = tick.at
            if (
                tick_at is not None and tick_at <= at and tick.price
            ):  # None: a frame without a price
                return TickPrice(tick.price, tick.change, tick.change_rate, tick_at)
        return None
