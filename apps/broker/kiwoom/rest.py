"""Async REST client for Kiwoom: one method per TR the product needs, returning contract types.

Every request takes a slot from the shared Redis rate limiter (in its priority class: orders
first, charts and backfills last) and the shared token, and every
answer goes through one envelope check that turns Kiwoom's errors into ours. Reads are repeated
once after a token refusal (with a reissued token) and a few times after a throttle reply (with
jittered backoff). Orders, amends and cancels are sent exactly once: a lost or garbled reply is an
AmbiguousOutcome for reconciliation, never a retry.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from apps.broker.backoff import backoff_delay
from apps.broker.contract.types import (
    AmendAck,
    Balance,
    CancelAck,
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
)
from krx.markets import Market

from . import mapping, parse
from . import normalize as n
from .auth import IssuedToken, TokenStore
from .config import KiwoomConfig
from .errors import (
    REISSUE_CODES,
    AmbiguousOutcome,
    AuthExpired,
    AuthFailed,
    BrokerError,
    BrokerUnavailable,
    InvalidRequest,
    RateLimited,
    error_from_envelope,
)
from .http import AioHttp, MaybeSent, NotSent, Reply, TransportError
from .paging import DEFAULT_MAX_PAGES, Page, collect_pages
from .ratelimit import (
    ORDER_API_IDS,
    Priority,
    RateBudget,
    SharedRateLimiter,
    default_priority,
    limiter_prefix,
)

log = logging.getLogger(__name__)

JSON_CT = "application/json;charset=UTF-8"

PATHS = {
    "ka00001": "/api/dostk/acnt",
    "ka10001": "/api/dostk/stkinfo",
    "ka10099": "/api/dostk/stkinfo",
    "ka10004": "/api/dostk/mrkcond",
    "ka10080": "/api/dostk/chart",
    "ka10081": "/api/dostk/chart",
    "ka10023": "/api/dostk/rkinfo",
    "ka10027": "/api/dostk/rkinfo",
    "ka10030": "/api/dostk/rkinfo",
    "ka10032": "/api/dostk/rkinfo",
    "kt00001": "/api/dostk/acnt",
    "kt00004": "/api/dostk/acnt",
    "kt00018": "/api/dostk/acnt",
    "ka10075": "/api/dostk/acnt",
    "ka10076": "/api/dostk/acnt",
    "kt10000": "/api/dostk/ordr",
    "kt10001": "/api/dostk/ordr",
    "kt10002": "/api/dostk/ordr",
    "kt10003": "/api/dostk/ordr",
}

# Ranking request bodies: "everything" filters; callers override single fields.
RANKING_DEFAULTS: dict[RankingKind, dict[str, str]] = {
    RankingKind.TRADING_VALUE: {"mrkt_tp": "000", "mang_stk_incls": "1", "stex_tp": "1"},
    RankingKind.VOLUME_SURGE: {
        "mrkt_tp": "000",
        "sort_tp": "1",
        "tm_tp": "2",
        "trde_qty_tp": "5",
        "tm": "",
        "stk_cnd": "0",
        "pric_tp": "0",
        "stex_tp": "1",
    },
    RankingKind.CHANGE_RATE: {
        "mrkt_tp": "000",
        "sort_tp": "1",
        "trde_qty_cnd": "0000",
        "stk_cnd": "0",
        "crd_cnd": "0",
        "updown_incls": "1",
        "pric_cnd": "0",
        "trde_prica_cnd": "0",
        "stex_tp": "1",
    },
    # ka10030's mang_stk_incls is inverted versus ka10032: "0" here means "include".
    RankingKind.VOLUME: {
        "mrkt_tp": "000",
        "sort_tp": "1",
        "mang_stk_incls": "0",
        "crd_tp": "0",
        "trde_qty_tp": "0",
        "pric_tp": "0",
        "trde_prica_tp": "0",
        "mrkt_open_tp": "0",
        "stex_tp": "1",
    },
}


class KiwoomRestClient:
    def __init__(
        self,
        config: KiwoomConfig,
        *,
        redis: Redis | None = None,
        http: AioHttp | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self._own_redis = redis is None
        self.redis = redis or Redis.from_url(config.redis_url)
        self._own_http = http is None
        self._http = http or AioHttp(config.base_url, config.timeout_seconds)
        self._clock = clock
        self.limiter = SharedRateLimiter(
            self.redis,
            RateBudget(config.query_rate, config.rate_burst),
            limiter_prefix(config.key_prefix, config.base_url),
        )
        self.tokens = TokenStore(
            self.redis, config.app_key, self._issue_token, key_prefix=config.key_prefix, now=clock
        )
        self.throttled = 0  # throttle replies seen (diagnostics for the benchmark)
        self.server_day: date | None = None  # last trading day the server reported (simulator)

    def __repr__(self) -> str:
        return f"KiwoomRestClient({self.config!r})"

    async def aclose(self) -> None:
        self.limiter.close()
        if self._own_http:
            await self._http.aclose()
        if self._own_redis:
            await self.redis.aclose()

    async def __aenter__(self) -> KiwoomRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ token
    async def _issue_token(self) -> IssuedToken:
        body = {
            "grant_type": "client_credentials",
            "appkey": self.config.app_key,
            "secretkey": self.config.secret_key,
        }
        try:
            resp = await self._http.post(
                "/oauth2/token", orjson.dumps(body), {"Content-Type": JSON_CT}
            )
        except TransportError as exc:
            raise BrokerUnavailable(f"token request failed: {exc}") from None
        data = self._decode(resp)
        if str(data.get("return_code", "0")).strip() != "0" or not data.get("token"):
            err = error_from_envelope(resp.status_code, data.get("return_code", -1), _msg(data))
            if isinstance(err, AuthExpired):
                # A refused *issuance* is a credential problem, not a stale token.
                raise AuthFailed(err.message, err.code)
            raise err
        expires = str(data.get("expires_dt", "")).strip()
        expires_at = n.kst_datetime(expires) if len(expires) == 14 else self._clock()
        log.info("issued Kiwoom token for %s, expires %s", self.config.app_key_hint, expires_at)
        return IssuedToken(str(data["token"]), expires_at)

    async def revoke_token(self) -> bool:
        """au10002: revoke the shared token and forget it (the next call issues a new one)."""
        tok = await self.tokens.forget()
        if tok is None:
            return False
        body = {
            "appkey": self.config.app_key,
            "secretkey": self.config.secret_key,
            "token": tok.token,
        }
        try:
            resp = await self._http.post(
                "/oauth2/revoke", orjson.dumps(body), {"Content-Type": JSON_CT}
            )
        except TransportError as exc:
            raise BrokerUnavailable(f"revoke failed: {exc}") from None
        data = self._decode(resp)
        return str(data.get("return_code", "")).strip() == "0"

    # ------------------------------------------------------------------ envelope
    @staticmethod
    def _decode(resp: Reply) -> dict[str, Any]:
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            if resp.status_code == 429:
                raise RateLimited("rate limited", "1700")
            raise BrokerUnavailable(f"HTTP {resp.status_code} without a JSON body")
        return data

    def _day(self, resp: Reply) -> date:
        # The simulator reports its exchange clock; HHMMSS fields belong to that day.
        sim = resp.headers.get("x-sim-time")
        if sim:
            try:
                self.server_day = datetime.fromisoformat(sim).astimezone(n.KST).date()
                return self.server_day
            except ValueError:
                pass
        return n.kst_today(self._clock())

    async def _post(
        self, api_id: str, body: dict[str, Any], token: str, cursor: str | None
    ) -> Reply:
        headers = {
            "Content-Type": JSON_CT,
            "authorization": f"Bearer {token}",
            "api-id": api_id,
            "cont-yn": "Y" if cursor else "N",
            "next-key": cursor or "",
        }
        return await self._http.post(PATHS[api_id], orjson.dumps(body), headers)

    async def request(
        self,
        api_id: str,
        body: dict[str, Any],
        cursor: str | None = None,
        priority: Priority | None = None,
        held_token: str | None = None,
    ) -> Page:
        """One TR call with the shared limiter and token; reads retried, orders never. `held_token`:
        the slot and token were taken already (`order_slot`), for the first attempt.

        Cancelling the calling task (a sync call that ran out of time) while it waits for a slot
        or the token sends nothing: the waiter leaves the limiter's queue."""
        prio = default_priority(api_id) if priority is None else priority
        is_order = api_id in ORDER_API_IDS
        reissued = False
        transport_retried = False
        throttle_attempt = 0
        while True:
            try:
                if held_token is None:
                    await self.limiter.acquire(prio)
                    token = await self.tokens.get()
                else:
                    token, held_token = held_token, None
            except RedisError as exc:
                # Without the shared limiter and token we must not call Kiwoom at all.
                raise BrokerUnavailable(
                    f"shared Redis state unavailable: {type(exc).__name__}"
                ) from None
            try:
                resp = await self._post(api_id, body, token, cursor)
            except NotSent as exc:
                if not is_order and not transport_retried:
                    transport_retried = True
                    continue
                raise BrokerUnavailable(f"{api_id}: not sent ({exc})") from None
            except MaybeSent as exc:
                if is_order:
                    raise AmbiguousOutcome(
                        f"{api_id}: reply lost ({exc}); reconcile before acting"
                    ) from None
                if not transport_retried:
                    transport_retried = True
                    continue
                raise BrokerUnavailable(f"{api_id}: {exc}") from None
            try:
                return self._unwrap(api_id, resp, is_order)
            except AuthExpired as exc:
                if exc.code in REISSUE_CODES or exc.code is None:
                    await self.tokens.invalidate(token)
                    if not is_order and not reissued:
                        reissued = True
                        continue
                raise
            except BrokerUnavailable:
                # A gateway error or garbage body: a read may be asked once more.
                if is_order or transport_retried:
                    raise
                transport_retried = True
                continue
            except RateLimited:
                self.throttled += 1
                throttle_attempt += 1
                delay = backoff_delay(throttle_attempt, self.config.throttle_backoff_base)
                await self.limiter.penalize(delay)
                if is_order or throttle_attempt > self.config.max_throttle_retries:
                    raise
                log.warning("%s throttled; backing off %.2fs", api_id, delay)
                await asyncio.sleep(delay)

    def _unwrap(self, api_id: str, resp: Reply, is_order: bool) -> Page:
        try:
            data = self._decode(resp)
        except BrokerUnavailable as exc:
            if is_order and resp.status_code != 429:
                # A gateway error on an order says nothing about whether the host took it.
                raise AmbiguousOutcome(f"{api_id}: {exc.message}") from None
            raise
        rc = data.get("return_code", data.get("returnCode", 0))
        if resp.status_code != 200 or str(rc).strip() not in ("0", ""):
            err = error_from_envelope(resp.status_code, rc, _msg(data))
            if is_order and isinstance(err, BrokerUnavailable):
                raise AmbiguousOutcome(f"{api_id}: {err.message}", err.code)
            raise err
        more = (resp.headers.get("cont-yn") or "").strip().upper() == "Y"
        return Page(data, more, (resp.headers.get("next-key") or "").strip(), self._day(resp))

    async def pages(
        self,
        api_id: str,
        body: dict[str, Any],
        max_pages: int | None = DEFAULT_MAX_PAGES,
        priority: Priority | None = None,
    ) -> list[Page]:
        return await collect_pages(
            lambda cursor: self.request(api_id, body, cursor, priority), max_pages
        )

    # ------------------------------------------------------------------ market data
    async def account_number(self) -> str:
        page = await self.request("ka00001", {})
        return str(page.body.get("acctNo", "")).strip()

    async def quote(self, code: str) -> Quote:
        page = await self.request("ka10001", {"stk_cd": n.code(code)})
        return parse.quote(page.body)

    async def order_book(self, code: str) -> OrderBook:
        page = await self.request("ka10004", {"stk_cd": n.code(code)})
        return parse.order_book(code, page.body, page.day)

    async def minute_bars(
        self,
        code: str,
        minutes: int = 1,
        *,
        adjusted: bool = True,
        base_date: date | None = None,
        max_pages: int | None = 1,
    ) -> list[MinuteBar]:
        body = {
            "stk_cd": n.code(code),
            "tic_scope": str(minutes),
            "upd_stkpc_tp": "1" if adjusted else "0",
        }
        if base_date is not None:
            body["base_dt"] = base_date.strftime("%Y%m%d")
        out: list[MinuteBar] = []
        for page in await self.pages("ka10080", body, max_pages):
            out.extend(parse.minute_bars(code, page.body))
        return out

    async def daily_bars(
        self,
        code: str,
        base_date: date | None = None,
        *,
        adjusted: bool = True,
        max_pages: int | None = 1,
    ) -> list[DailyBar]:
        day = base_date or n.kst_today(self._clock())
        body = {
            "stk_cd": n.code(code),
            "base_dt": day.strftime("%Y%m%d"),
            "upd_stkpc_tp": "1" if adjusted else "0",
        }
        out: list[DailyBar] = []
        for page in await self.pages("ka10081", body, max_pages):
            out.extend(parse.daily_bars(code, page.body))
        return out

    async def rankings(
        self, kind: RankingKind, *, max_pages: int | None = 1, **overrides: str
    ) -> list[RankingRow]:
        body = {**RANKING_DEFAULTS[kind], **overrides}
        out: list[RankingRow] = []
        for page in await self.pages(mapping.RANKING_API_IDS[kind], body, max_pages):
            out.extend(parse.rankings(kind, page.body, start_rank=len(out) + 1))
        return out

    async def instruments(self, market: Market = Market.KOSPI) -> list[Instrument]:
        out: list[Instrument] = []
        for page in await self.pages("ka10099", {"mrkt_tp": mapping.MARKET_CODES[Market(market)]}):
            out.extend(parse.instruments(page.body))
        return out

    # ------------------------------------------------------------------ account
    @property
    def _account_exchange(self) -> str:
        # 0 = 통합 (KRX+NXT); the mock host serves KRX only, so ask it for KRX (1).
        return "1" if self.config.is_mock else "0"

    async def _evaluation_pages(self) -> list[Page]:
        return await self.pages("kt00018", {"qry_tp": "1", "dmst_stex_tp": "KRX"})

    async def balance(self) -> Balance:
        deposit = await self.request("kt00001", {"qry_tp": "3"})
        evaluation = await self._evaluation_pages()
        return parse.balance(deposit.body, evaluation[0].body)

    async def holdings(self) -> list[Holding]:
        out: list[Holding] = []
        for page in await self._evaluation_pages():
            out.extend(parse.holdings(page.body))
        return [h for h in out if h.quantity > 0]

    async def open_orders(
        self, code: str | None = None, side: Side | None = None
    ) -> list[OpenOrder]:
        body = {
            "all_stk_tp": "1" if code else "0",
            "trde_tp": _side_filter(side),
            "stk_cd": n.code(code) if code else "",
            "stex_tp": self._account_exchange,
        }
        out: list[OpenOrder] = []
        for page in await self.pages("ka10075", body):
            out.extend(parse.open_orders(page.body, page.day))
        return out

    async def fills(self, code: str | None = None, side: Side | None = None) -> list[Fill]:
        body = {
            "stk_cd": n.code(code) if code else "",
            "qry_tp": "1" if code else "0",
            "sell_tp": _side_filter(side),
            "ord_no": "",
            "stex_tp": self._account_exchange,
        }
        out: list[Fill] = []
        for page in await self.pages("ka10076", body):
            out.extend(parse.fills(page.body, page.day))
        return out

    async def order_status(self, order_no: str) -> OrderState | None:
        """Where an order stands, from the open-order and execution lists (for reconciliation)."""
        wanted = n.order_no(order_no)
        for o in await self.open_orders():
            if o.order_no == wanted:
                avg = o.filled_value // o.filled_quantity if o.filled_quantity else None
                return OrderState(
                    o.order_no,
                    o.code,
                    o.side,
                    o.quantity,
                    o.filled_quantity,
                    o.remaining,
                    avg,
                    o.status,
                    not o.status.is_final,
                )
        for f in await self.fills():
            if f.order_no == wanted:
                return OrderState(
                    f.order_no,
                    f.code,
                    f.side,
                    f.order_quantity,
                    f.fill_quantity,
                    f.remaining,
                    f.fill_price,
                    f.status,
                    f.remaining > 0 and not f.status.is_final,
                )
        return None

    # ------------------------------------------------------------------ orders (never retried)
    async def order_slot(self) -> Callable[..., Awaitable[OrderAck]]:
        """An order's rate-limit slot and the token, taken now (the executor: while the order row
        commits); the returned `place_order` uses them once. A slot never used simply lapses."""
        try:
            # The slot and the shared token in one round trip (the token read in the slot's script).
            raw = await self.limiter.acquire(Priority.ORDER, read=self.tokens.key)
            token = self.tokens.usable(raw) or await self.tokens.get()
        except RedisError as exc:
            raise BrokerUnavailable(f"shared Redis unavailable: {type(exc).__name__}") from None
        return functools.partial(self.place_order, _held_token=token)

    async def place_order(
        self,
        side: Side,
        code: str,
        quantity: int,
        order_type: OrderType = OrderType.LIMIT,
        price: int | None = None,
        exchange: Exchange = Exchange.KRX,
        _held_token: str | None = None,
    ) -> OrderAck:
        if quantity <= 0:
            raise InvalidRequest("quantity must be positive")
        if order_type.needs_price and not price:
            raise InvalidRequest(f"{order_type.name} needs a price")
        body = {
            "dmst_stex_tp": exchange.value,
            "stk_cd": n.code(code),
            "ord_qty": str(quantity),
            "ord_uv": str(price) if order_type.needs_price and price else "",
            "trde_tp": mapping.TRDE_TP[order_type],
            "cond_uv": "",
        }
        api_id = "kt10000" if side is Side.BUY else "kt10001"
        page = await self.request(api_id, body, held_token=_held_token)
        return parse.order_ack(page.body)

    async def amend_order(
        self,
        original_order_no: str,
        code: str,
        quantity: int,
        price: int,
        exchange: Exchange = Exchange.KRX,
    ) -> AmendAck:
        """kt10002; quantity 0 amends the whole remaining quantity."""
        body = {
            "dmst_stex_tp": exchange.value,
            "orig_ord_no": n.order_no(original_order_no),
            "stk_cd": n.code(code),
            "mdfy_qty": str(quantity),
            "mdfy_uv": str(price),
            "mdfy_cond_uv": "",
        }
        page = await self.request("kt10002", body)
        return parse.amend_ack(page.body)

    async def cancel_order(
        self,
        original_order_no: str,
        code: str,
        quantity: int = 0,
        exchange: Exchange = Exchange.KRX,
    ) -> CancelAck:
        """kt10003; quantity 0 cancels everything that remains."""
        body = {
            "dmst_stex_tp": exchange.value,
            "orig_ord_no": n.order_no(original_order_no),
            "stk_cd": n.code(code),
            "cncl_qty": str(quantity),
        }
        page = await self.request("kt10003", body)
        return parse.cancel_ack(page.body)


def _side_filter(side: Side | None) -> str:
    return "0" if side is None else ("1" if side is Side.SELL else "2")


def _msg(data: dict[str, Any]) -> str:
    return str(data.get("return_msg", data.get("returnMsg", "")) or "")


__all__ = ["BrokerError", "KiwoomRestClient"]
