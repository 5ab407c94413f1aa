"""A thin synchronous facade over the async client, for Celery tasks and management commands.

The async client lives on a private event loop in a daemon thread (one per facade), so sync callers
— including code already running inside some other event loop — can use it without nesting loops.
Each call submits the coroutine to that loop and waits for its result.

Every call has a time limit (`order_call_timeout` for place/amend/cancel, `read_call_timeout` for
the rest). The limit is enforced *inside* the loop: when it passes, the call's coroutine is
cancelled wherever it is — waiting for a rate-limit slot, for the token, or for the reply — and the
caller hears about it only once the cancellation has finished, so no request leaves after the
caller was told the call failed. An order call that ran out of time raises `AmbiguousOutcome` (it
may have reached the broker: reconcile); a read raises `BrokerUnavailable`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from typing import Any, TypeVar

from apps.broker.contract.errors import AmbiguousOutcome, BrokerUnavailable
from apps.broker.contract.types import (
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
from krx.markets import Market

from . import parse
from .auth import app_key_hint
from .config import KiwoomConfig
from .ratelimit import Priority
from .relay import relay_call
from .rest import KiwoomRestClient
from .ws import KiwoomWebSocket, WsOptions

T = TypeVar("T")

# How long past a call's own limit the caller waits for the loop to report the cancellation.
_CANCEL_GRACE_SECONDS = 5.0


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
        self.order_timeout = config.order_call_timeout
        self.read_timeout = config.read_call_timeout

    async def _make_client(self) -> KiwoomRestClient:
        return KiwoomRestClient(self.config)

    def __repr__(self) -> str:
        return f"KiwoomSync(app_key={app_key_hint(self.config.app_key)!r})"

    @property
    def client(self) -> KiwoomRestClient:
        return self._client

    def call(
        self,
        fn: Callable[[KiwoomRestClient], Awaitable[T]],
        *,
        order: bool = False,
        timeout: float | None = None,
    ) -> T:
        """Run `fn(client)` on the loop within the call's time limit (see the module docstring)."""
        limit = (
            timeout if timeout is not None else (self.order_timeout if order else self.read_timeout)
        )
        what = "order call" if order else "call"

        async def _run() -> T:
            try:
                async with asyncio.timeout(limit) as cm:
                    return await fn(self._client)
            except TimeoutError:
                if not cm.expired():
                    raise
                # Raised only after the cancelled coroutine unwound: nothing is sent from now on.
                if order:
                    raise AmbiguousOutcome(
                        f"{what} ran out of time after {limit:g}s; reconcile before acting"
                    ) from None
                raise BrokerUnavailable(f"{what} ran out of time after {limit:g}s") from None

        future = asyncio.run_coroutine_threadsafe(_run(), self._thread.loop)
        try:
            return future.result(limit + _CANCEL_GRACE_SECONDS)
        except concurrent.futures.TimeoutError:
            # The loop did not even report the cancellation (wedged): cancel and give up.
            future.cancel()
            if order:
                raise AmbiguousOutcome(f"{what} did not return; reconcile before acting") from None
            raise BrokerUnavailable(f"{what} did not return") from None

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

    def instruments(self, market: Market = Market.KOSPI) -> list[Instrument]:
        return self.call(lambda c: c.instruments(market))

    def balance(self) -> Balance:
        return self.call(lambda c: c.balance())

    def holdings(self) -> list[Holding]:
        return self.call(lambda c: c.holdings())

    def open_orders(self, code: str | None = None) -> list[OpenOrder]:
        return self.call(lambda c: c.open_orders(code))

    def fills(self, code: str | None = None) -> list[Fill]:
        return self.call(lambda c: c.fills(code))

    def order_status(self, order_no: str) -> OrderState | None:
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
        return self.call(
            lambda c: c.place_order(side, code, quantity, order_type, price, exchange), order=True
        )

    def amend_order(
        self, order_no: str, code: str, quantity: int, price: int, exchange: Exchange = Exchange.KRX
    ) -> AmendAck:
        return self.call(
            lambda c: c.amend_order(order_no, code, quantity, price, exchange), order=True
        )

    def cancel_order(
        self, order_no: str, code: str, quantity: int = 0, exchange: Exchange = Exchange.KRX
    ) -> CancelAck:
        return self.call(lambda c: c.cancel_order(order_no, code, quantity, exchange), order=True)

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
                throttle=lambda: c.limiter.acquire(Priority.CONDITION),
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
