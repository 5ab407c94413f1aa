"""The broker contract on the Kiwoom client: real host, Kiwoom's mock host or the simulator.

Only the URLs in `KiwoomConfig` differ between the three. Sync calls go through the sync facade
(its own event loop thread); the realtime feed runs on the caller's event loop.
"""

from __future__ import annotations

import os
import threading
from datetime import date, datetime

from apps.broker.contract import (
    AmendAck,
    Balance,
    Broker,
    CancelAck,
    Condition,
    ConditionHit,
    DailyBar,
    EventHandler,
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
    RealtimeFeed,
    Side,
    TokenInfo,
)
from apps.broker.kiwoom.config import KiwoomConfig
from apps.broker.kiwoom.events import TradingDay
from apps.broker.kiwoom.ratelimit import Priority
from apps.broker.kiwoom.relay import RelayServer
from apps.broker.kiwoom.rest import KiwoomRestClient
from apps.broker.kiwoom.sync import KiwoomSync
from apps.broker.kiwoom.ws import KiwoomWebSocket, State, WsOptions
from krx.markets import Market


class KiwoomRealtimeFeed(RealtimeFeed):
    def __init__(
        self,
        config: KiwoomConfig,
        on_event: EventHandler | None,
        options: WsOptions | None = None,
        serve_relay: bool = True,
    ) -> None:
        self._config = config
        self._on_event = on_event
        self._serve_relay = serve_relay
        self._relay: RelayServer | None = None
        self._options = options or WsOptions(request_timeout=config.timeout_seconds)
        self._rest: KiwoomRestClient | None = None
        self._ws: KiwoomWebSocket | None = None

    @property
    def ws(self) -> KiwoomWebSocket:
        if self._ws is None:
            raise RuntimeError("realtime feed not started")
        return self._ws

    async def start(self) -> None:
        if self._ws is not None:
            return
        self._rest = rest = KiwoomRestClient(self._config)
        # One cheap query up front: it proves the keys work and, against the simulator, tells us
        # the exchange's trading day (x-sim-time) for events that only carry HHMMSS.
        await rest.account_number()
        fallback = TradingDay()
        self._ws = KiwoomWebSocket(
            self._config.ws_url,
            rest.tokens.get,
            rest.tokens.invalidate,
            on_event=self._on_event,
            options=self._options,
            today=lambda: rest.server_day or fallback.today(),
            throttle=lambda: rest.limiter.acquire(Priority.CONDITION),
        )
        await self._ws.start()
        await self._ws.wait_ready()
        if self._serve_relay:
            # Other processes run condition searches through this socket instead of their own.
            self._relay = RelayServer(
                rest.redis, self._ws, self._config.key_prefix, self._config.app_key
            )
            await self._relay.start()

    async def close(self) -> None:
        if self._relay is not None:
            await self._relay.close()
            self._relay = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._rest is not None:
            await self._rest.aclose()
            self._rest = None

    async def subscribe_ticks(self, codes: list[str], group: str = "1") -> None:
        await self.ws.subscribe(codes, ["0B"], group)

    async def unsubscribe_ticks(self, codes: list[str], group: str = "1") -> None:
        await self.ws.unsubscribe(codes, ["0B"], group)

    async def subscribe_vi(self, codes: list[str], group: str = "1") -> None:
        await self.ws.subscribe(codes, ["1h"], group)

    async def unsubscribe_vi(self, codes: list[str], group: str = "1") -> None:
        await self.ws.unsubscribe(codes, ["1h"], group)

    async def subscribe_account(self) -> None:
        await self.ws.subscribe_account()

    async def conditions(self) -> list[Condition]:
        return await self.ws.conditions()

    async def condition_search(self, seq: str) -> list[ConditionHit]:
        return await self.ws.condition_search(seq)

    async def subscribe_condition(self, seq: str) -> list[ConditionHit]:
        return await self.ws.condition_subscribe(seq)

    async def unsubscribe_condition(self, seq: str) -> None:
        await self.ws.condition_unsubscribe(seq)

    def subscribed_conditions(self) -> frozenset[str]:
        return self._ws.realtime_conditions if self._ws else frozenset()

    @property
    def connections(self) -> int:
        return self._ws.connections if self._ws else 0

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.state is State.READY

    @property
    def last_frame_at(self) -> datetime | None:
        return self._ws.last_frame_at if self._ws else None


class KiwoomBroker(Broker):
    def __init__(self, config: KiwoomConfig) -> None:
        self.config = config
        self._sync: KiwoomSync | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KiwoomBroker({self.config!r})"

    @property
    def client(self) -> KiwoomSync:
        # Created on first use so that importing/constructing the broker never opens sockets, and
        # again after a fork (Celery prefork): the loop thread does not survive into the child.
        # Under a lock: threads racing for the first call must share one client (one loop, one
        # connection pool), not each build their own and leak the losers.
        pid = os.getpid()
        sync = self._sync
        if sync is not None and self._pid == pid:
            return sync
        if self._pid != pid:
            # A forked child starts with one thread; the parent's lock (maybe copied while held)
            # and client (its loop thread did not survive) are unusable here.
            self._lock = threading.Lock()
            self._sync = None
            self._pid = pid
        with self._lock:
            if self._sync is None:
                self._sync = KiwoomSync(self.config)
            return self._sync

    def close(self) -> None:
        with self._lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()

    def limiter_usage(self) -> list[dict[str, object]]:
        """The shared request budget's use per priority class (health)."""
        usage = self.client.call(lambda c: c.limiter.usage(), timeout=5.0)
        return [
            {"class": u.name, "requests_last_minute": u.requests_last_minute, "waiting": u.waiting}
            for u in usage
        ]

    def place_order(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType = OrderType.LIMIT,
        price: int | None = None,
        exchange: Exchange = Exchange.KRX,
    ) -> OrderAck:
        return self.client.place_order(side, code, quantity, order_type, price, exchange)

    def amend_order(self, order_no: str, code: str, quantity: int, price: int) -> AmendAck:
        return self.client.amend_order(order_no, code, quantity, price)

    def cancel_order(self, order_no: str, code: str, quantity: int = 0) -> CancelAck:
        return self.client.cancel_order(order_no, code, quantity)

    def order_status(self, order_no: str) -> OrderState | None:
        return self.client.order_status(order_no)

    def open_orders(self, code: str | None = None) -> list[OpenOrder]:
        return self.client.open_orders(code)

    def fills(self, code: str | None = None) -> list[Fill]:
        return self.client.fills(code)

    def balance(self) -> Balance:
        return self.client.balance()

    def holdings(self) -> list[Holding]:
        return self.client.holdings()

    def quote(self, code: str) -> Quote:
        return self.client.quote(code)

    def order_book(self, code: str) -> OrderBook:
        return self.client.order_book(code)

    def rankings(self, kind: RankingKind, **filters: str) -> list[RankingRow]:
        return self.client.rankings(kind, **filters)

    def minute_bars(
        self, code: str, minutes: int = 1, max_pages: int | None = 1
    ) -> list[MinuteBar]:
        return self.client.minute_bars(code, minutes, max_pages)

    def daily_bars(
        self, code: str, base_date: date | None = None, max_pages: int | None = 1
    ) -> list[DailyBar]:
        return self.client.daily_bars(code, base_date, max_pages)

    def instruments(self, market: Market = Market.KOSPI) -> list[Instrument]:
        return self.client.instruments(market)

    def conditions(self) -> list[Condition]:
        return self.client.conditions()

    def condition_search(self, seq: str) -> list[ConditionHit]:
        return self.client.condition_search(seq)

    def realtime(self, on_event: EventHandler | None = None) -> KiwoomRealtimeFeed:
        return KiwoomRealtimeFeed(self.config, on_event)

    def token_status(self) -> TokenInfo:
        return self.client.token_info()

    def ensure_token(self) -> TokenInfo:
        return self.client.ensure_token()
