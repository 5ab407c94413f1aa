"""A thin synchronous facade over the async client, for Celery tasks and management commands.

The async client lives on a private event loop in a daemon thread (one per facade), so sync callers
— including code already running inside some other event loop — can use it without nesting loops.
Each call submits the coroutine to that loop and waits for its result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from typing import Any, TypeVar

from . import parse
from .auth import app_key_hint
from .config import KiwoomConfig
from .dto import (
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
    OrderStatus,
    OrderType,
    Quote,
    RankingKind,
    RankingRow,
    Side,
    TokenInfo,
)
from .ratelimit import ApiClass
from .relay import relay_call
from .rest import KiwoomRestClient
from .ws import KiwoomWebSocket, WsOptions

T = TypeVar("T")


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self, name: str = "kiwoom-client") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class KiwoomSync:
    """Blocking versions of KiwoomRestClient's methods plus short-lived condition-search calls."""

    def __init__(self, config: KiwoomConfig, ws_options: WsOptions | None = None) -> None:
        self.config = config
        self._ws_options = ws_options or WsOptions(request_timeout=config.timeout_seconds)
        self._thread = LoopThread()
        self._client: KiwoomRestClient = self._thread.run(self._make_client())
        # Generous: a call may wait for rate-limit slots and a token issuance before its request.
        self._timeout = config.timeout_seconds * 6 + 30

    async def _make_client(self) -> KiwoomRestClient:
        return KiwoomRestClient(self.config)

    def __repr__(self) -> str:
        return f"KiwoomSync(app_key={app_key_hint(self.config.app_key)!r})"

    @property
    def client(self) -> KiwoomRestClient:
        return self._client

    def call(self, fn: Callable[[KiwoomRestClient], Awaitable[T]]) -> T:
        async def _run() -> T:
            return await fn(self._client)

        return self._thread.run(_run(), self._timeout)

    def close(self) -> None:
        try:
            self._thread.run(self._client.aclose(), 10)
        finally:
            self._thread.stop()

    def __enter__(self) -> KiwoomSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ token
    def token_info(self) -> TokenInfo:
        return self.call(lambda c: c.tokens.info())

    def ensure_token(self) -> TokenInfo:
        async def _run(c: KiwoomRestClient) -> TokenInfo:
            await c.tokens.get()
            return await c.tokens.info()

        return self.call(_run)

    def revoke_token(self) -> bool:
        return self.call(lambda c: c.revoke_token())

    # ------------------------------------------------------------------ REST
    def account_number(self) -> str:
        return self.call(lambda c: c.account_number())

    def quote(self, code: str) -> Quote:
        return self.call(lambda c: c.quote(code))

    def order_book(self, code: str) -> OrderBook:
        return self.call(lambda c: c.order_book(code))

    def minute_bars(
        self, code: str, minutes: int = 1, max_pages: int | None = 1
    ) -> list[MinuteBar]:
        return self.call(lambda c: c.minute_bars(code, minutes, max_pages=max_pages))

    def daily_bars(
        self, code: str, base_date: date | None = None, max_pages: int | None = 1
    ) -> list[DailyBar]:
        return self.call(lambda c: c.daily_bars(code, base_date, max_pages=max_pages))

    def rankings(
        self, kind: RankingKind, max_pages: int | None = 1, **filters: str
    ) -> list[RankingRow]:
        return self.call(lambda c: c.rankings(kind, max_pages=max_pages, **filters))

    def instruments(self, market: str = "0") -> list[Instrument]:
        return self.call(lambda c: c.instruments(market))

    def balance(self) -> Balance:
        return self.call(lambda c: c.balance())

    def holdings(self) -> list[Holding]:
        return self.call(lambda c: c.holdings())

    def open_orders(self, code: str | None = None) -> list[OpenOrder]:
        return self.call(lambda c: c.open_orders(code))

    def fills(self, code: str | None = None) -> list[Fill]:
        return self.call(lambda c: c.fills(code))

    def order_status(self, order_no: str) -> OrderStatus | None:
        return self.call(lambda c: c.order_status(order_no))

    def place_order(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType = OrderType.LIMIT,
        price: int | None = None,
        exchange: Exchange = Exchange.KRX,
    ) -> OrderAck:
        return self.call(lambda c: c.place_order(side, code, quantity, order_type, price, exchange))

    def amend_order(
        self, order_no: str, code: str, quantity: int, price: int, exchange: Exchange = Exchange.KRX
    ) -> AmendAck:
        return self.call(lambda c: c.amend_order(order_no, code, quantity, price, exchange))

    def cancel_order(
        self, order_no: str, code: str, quantity: int = 0, exchange: Exchange = Exchange.KRX
    ) -> CancelAck:
        return self.call(lambda c: c.cancel_order(order_no, code, quantity, exchange))

    # ------------------------------------------------------------------ condition search
    def _ws_call(self, fn: Callable[[KiwoomWebSocket], Awaitable[T]]) -> T:
        # Only used when no process holds the WebSocket: Kiwoom allows one session per app key,
        # and a short session of our own would kick a long-lived one off (R10001).
        async def _run(c: KiwoomRestClient) -> T:
            ws = KiwoomWebSocket(
                self.config.ws_url,
                c.tokens.get,
                c.tokens.invalidate,
                options=self._ws_options,
                throttle=lambda: c.limiter.acquire(ApiClass.QUERY),
            )
            async with ws:
                return await fn(ws)

        return self.call(_run)

    def conditions(self) -> list[Condition]:
        relayed = self._relay("conditions")
        if relayed is not None:
            return parse.conditions(relayed)
        return self._ws_call(lambda ws: ws.conditions())

    def condition_search(self, seq: str) -> list[ConditionHit]:
        relayed = self._relay("condition_search", seq=seq)
        if relayed is not None:
            return parse.condition_hits(relayed)
        return self._ws_call(lambda ws: ws.condition_search(seq))

    def _relay(self, op: str, **args: str) -> list[Any] | None:
        """Through the process holding the WebSocket, if one is alive (see relay.py)."""
        cfg = self.config
        return self.call(
            lambda c: relay_call(
                c.redis, cfg.key_prefix, cfg.app_key, op, cfg.timeout_seconds * 3, **args
            )
        )
