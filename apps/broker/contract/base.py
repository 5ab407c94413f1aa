"""The broker interfaces the apps program against: `Broker` (sync) and `RealtimeFeed` (async).

Two implementations: `backends.kiwoom.KiwoomBroker` (the real host, Kiwoom's mock host or the
bundled simulator — only URLs differ) and `backends.memory.MemoryBroker` (in-process, for unit
tests). A further broker is one more backend implementing these two classes.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from krx.markets import Market

from .events import RealtimeEvent
from .types import (
    AmendAck,
    Balance,
    CancelAck,
    Condition,
    ConditionHit,
    DailyBar,
    Exchange,
    Fill,
    Holding,
    Instrument,
    MinuteBar,
    OpenOrder,
    OrderAck,
    OrderBook,
    OrderState,
    OrderType,
    Quote,
    RankingKind,
    RankingRow,
    Side,
    TokenInfo,
)

__all__ = ["Broker", "EventHandler", "RealtimeFeed"]

EventHandler = Callable[[RealtimeEvent], Awaitable[None] | None]


class RealtimeFeed(abc.ABC):
    """A live event stream (async; used by the realtime process)."""

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def subscribe_ticks(self, codes: list[str], group: str = "1") -> None: ...

    @abc.abstractmethod
    async def unsubscribe_ticks(self, codes: list[str], group: str = "1") -> None: ...

    @abc.abstractmethod
    async def subscribe_vi(self, codes: list[str], group: str = "1") -> None:
        """ViEvent (volatility interruption starts and ends) of `codes`."""

    @abc.abstractmethod
    async def unsubscribe_vi(self, codes: list[str], group: str = "1") -> None: ...

    @abc.abstractmethod
    async def subscribe_account(self) -> None:
        """Order (OrderEvent) and position (BalanceEvent) events of the account."""

    @abc.abstractmethod
    async def conditions(self) -> list[Condition]: ...

    @abc.abstractmethod
    async def condition_search(self, seq: str) -> list[ConditionHit]: ...

    @abc.abstractmethod
    async def subscribe_condition(self, seq: str) -> list[ConditionHit]:
        """Initial hits now; ConditionEvent entries/exits afterwards."""

    @abc.abstractmethod
    async def unsubscribe_condition(self, seq: str) -> None: ...

    @abc.abstractmethod
    def subscribed_conditions(self) -> frozenset[str]:
        """The realtime conditions this feed holds now (one the broker refused on a reconnect is gone)."""

    @property
    @abc.abstractmethod
    def connections(self) -> int:
        """Sessions opened so far: a value above 1 means events may have been missed."""

    @property
    def connected(self) -> bool:
        """Logged in now (False while the feed reconnects): what the realtime process's health reports."""
        return True

    @property
    def last_frame_at(self) -> datetime | None:
        """When the last frame (events or keep-alives) arrived; None if unknown."""
        return None


class Broker(abc.ABC):
    """Synchronous broker operations (views, services, Celery tasks, commands)."""

    # ---- orders (never retried)
    @abc.abstractmethod
    def place_order(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType = OrderType.LIMIT,
        price: int | None = None,
        exchange: Exchange = Exchange.KRX,
    ) -> OrderAck: ...

    @abc.abstractmethod
    def amend_order(self, order_no: str, code: str, quantity: int, price: int) -> AmendAck:
        """Quantity 0 amends the whole remaining quantity; the amend gets a new order number."""

    @abc.abstractmethod
    def cancel_order(self, order_no: str, code: str, quantity: int = 0) -> CancelAck:
        """Quantity 0 cancels everything that remains."""

    # ---- account
    @abc.abstractmethod
    def order_status(self, order_no: str) -> OrderState | None: ...

    @abc.abstractmethod
    def open_orders(self, code: str | None = None) -> list[OpenOrder]: ...

    @abc.abstractmethod
    def fills(self, code: str | None = None) -> list[Fill]: ...

    @abc.abstractmethod
    def balance(self) -> Balance: ...

    @abc.abstractmethod
    def holdings(self) -> list[Holding]: ...

    # ---- market data
    @abc.abstractmethod
    def quote(self, code: str) -> Quote: ...

    @abc.abstractmethod
    def order_book(self, code: str) -> OrderBook: ...

    @abc.abstractmethod
    def rankings(self, kind: RankingKind, **filters: str) -> list[RankingRow]: ...

    @abc.abstractmethod
    def minute_bars(
        self, code: str, minutes: int = 1, max_pages: int | None = 1
    ) -> list[MinuteBar]:
        """Newest first; `max_pages=None` pages to exhaustion."""

    @abc.abstractmethod
    def daily_bars(
        self, code: str, base_date: date | None = None, max_pages: int | None = 1
    ) -> list[DailyBar]:
        """Newest first, starting at `base_date` (default today)."""

    @abc.abstractmethod
    def instruments(self, market: Market = Market.KOSPI) -> list[Instrument]:
        """The broker's stock list of one market (KOSPI, KOSDAQ, KONEX)."""

    # ---- condition search
    @abc.abstractmethod
    def conditions(self) -> list[Condition]: ...

    @abc.abstractmethod
    def condition_search(self, seq: str) -> list[ConditionHit]: ...

    # ---- realtime and housekeeping
    @abc.abstractmethod
    def realtime(self, on_event: EventHandler | None = None) -> RealtimeFeed: ...

    @abc.abstractmethod
    def token_status(self) -> TokenInfo: ...

    def ensure_token(self) -> TokenInfo:
        """Issue or refresh the shared token if it is missing or near expiry (a beat task)."""
        return self.token_status()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""
