"""The simulator's network face: one aiohttp application serving Kiwoom REST and WebSocket.

Owns credentials and tokens (au10001/au10002), the REST envelope (headers, return codes, errors,
throttling, faults), the admin endpoints under `/_sim/`, and the run loop that advances the
exchange clock and fans engine events out to WebSocket sessions. TR bodies live in rest/, the
WebSocket protocol in ws.py, value encodings in encode.py. Framework-free: no Django imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

import orjson
from aiohttp import web

from . import encode
from .auth import (  # noqa: F401 - re-exported: imported from here across the project
    DEMO_ACCOUNT,
    DEMO_APP_KEY,
    DEMO_CREDENTIAL,
    DEMO_SECRET_KEY,
    THROTTLED,
    Credential,
    IssuedToken,
    KiwoomError,
    TokenStore,
    _from_rejection,
    auth_error,
    bad_field,
    bad_token,
    business_error,
    input_error,
    missing_field,
)
from .clock import SimClock, admin_speed
from .dto import SimRejection
from .faults import FaultController
from .ratelimit import DEFAULT_BURST, DEFAULT_RATE_PER_S, RateLimiter, throttle_message

log = logging.getLogger(__name__)

SIM_KEY: web.AppKey[SimServer] = web.AppKey("sim")

JSON_CT = "application/json;charset=UTF-8"
OK_MSG = "정상적으로 처리되었습니다"


@dataclass
class ServerConfig:
    credentials: tuple[Credential, ...] = (DEMO_CREDENTIAL,)
    rate_limit_per_s: float | None = DEFAULT_RATE_PER_S
    rate_limit_burst: int = DEFAULT_BURST
    token_ttl: timedelta = timedelta(hours=24)
    invalidate_previous_token: bool = True
    # PING interval/timeout are undocumented (PROTOCOL.md §6.2); these are conservative picks.
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 60.0
    login_timeout_s: float = 30.0
    # Wall seconds between run-loop steps.
    step_interval_s: float = 0.05
    max_realtime_conditions: int = 10
    condition_page_size: int = 100
    ws_queue_limit: int = 100_000
    admin_enabled: bool = True
    seed: int = 0
    # An accelerated clock (speed > 1) jumps from after the close to just before the next
    # trading day's pre-open, so a demo keeps living instead of idling through the night.
    roll_on_after_close: bool = False
    # The news source (news.py): breaking items are published on this Redis channel when a URL is given.
    news_redis_url: str | None = None
    news_channel: str = "news_breaking_kr"


MAX_BODY_BYTES = 1024 * 1024  # a larger TR body gets 413
ROLL_ON_AFTER = dt_time(15, 40)  # KST: ten minutes after the regular close
ROLL_ON_AT = dt_time(8, 25)  # KST: five minutes before the next day's call auction


# --------------------------------------------------------------------------- the server
@dataclass
class RestContext:
    server: SimServer
    api_id: str
    token: IssuedToken
    cont_yn: str
    next_key: str


@dataclass
class RestResult:
    body: dict[str, Any]
    cont_yn: str = "N"
    next_key: str = ""
    return_msg: str = OK_MSG


class SimServer:
    """Holds the exchange and all protocol state; `build_app()` gives the aiohttp application."""

    def __init__(
        self,
        exchange: Any,
        config: ServerConfig | None = None,
        clock: SimClock | None = None,
        faults: FaultController | None = None,
        state_file: str | None = None,
    ) -> None:
        from . import ws
        from .adapter import MarketAdapter
        from .news import NewsPublisher, SimNewsSource

        self.exchange = exchange
        self.config = config or ServerConfig()
        self.clock = clock or SimClock(datetime.now(UTC))
        self.faults = faults or FaultController(self.config.seed)
        self.ratelimiter = RateLimiter(self.config.rate_limit_per_s, self.config.rate_limit_burst)
        self.tokens = TokenStore(
            self.config.credentials, self.config.token_ttl, self.config.invalidate_previous_token
        )
        self.market = MarketAdapter(exchange, self)
        self.hub = ws.Hub(self)
        self.state_file = state_file
        self.faults.on_drop_ws = self.hub.drop
        self.faults.on_invalidate_tokens = self.tokens.invalidate
        self._loop_task: asyncio.Task[None] | None = None
        self.news = SimNewsSource(exchange, self.config.seed)
        self.news_publisher = (
            NewsPublisher(self.news, self.config.news_redis_url, self.config.news_channel)
            if self.config.news_redis_url
            else None
        )
        self._news_task: asyncio.Task[None] | None = None
        self.steps = 0
        self.events_seen = 0
        self.lock = asyncio.Lock()
        self.closing = False

    # ---------------------------------------------------------------- time
    def sim_now(self) -> datetime:
        """The exchange's time (what every response reports)."""
        return self.market.now()

    def sim_time_header(self) -> str:
        return encode.kst(self.sim_now()).isoformat()

    # ---------------------------------------------------------------- run loop
    def step(self, to: datetime | None = None) -> int:
        """Advance the exchange to `to` (default: the clock) and fan the events out."""
        target = to or self.clock.now()
        events = self.market.advance(target)
        self.steps += 1
        self.events_seen += len(events)
        if events:
            self.hub.publish_events(events)
        return len(events)

    def roll_on(self) -> bool:
        """With `roll_on_after_close` and an accelerated clock: once the trading day's close is
        ROLL_ON_GRACE behind, move the exchange and the clock to ROLL_ON_AT of the next trading
        day. Returns whether it rolled."""
        if not self.config.roll_on_after_close or self.clock.speed <= 1:
            return False
        next_day = getattr(self.exchange, "next_trading_day", None)
        if next_day is None:
            return False
        now = encode.kst(self.sim_now())
        day = self.exchange.trading_day()
        if now < datetime.combine(day, ROLL_ON_AFTER, tzinfo=now.tzinfo):
            return False
        target = datetime.combine(next_day(), ROLL_ON_AT, tzinfo=now.tzinfo)
        if target <= now:
            return False
        log.info("simulator rolls on from %s to %s", now.isoformat(), target.isoformat())
        self.step(target)
        self.clock.set(target)
        return True

    async def advance_to(self, to: datetime) -> int:
        """Test helper: jump the exchange to `to`, publishing every event on the way."""
        n = self.step(to)
        self.clock.set(to)
        await asyncio.sleep(0)
        return n

    async def run_loop(self) -> None:
        interval = self.config.step_interval_s
        while True:
            started = time.monotonic()
            try:
                if self.clock.speed > 0:
                    self.step()
                    self.roll_on()
            except Exception:
                log.exception("simulator step failed")
            self.hub.check_pings()
            try:
                self.market.maybe_save(self.state_file)
            except OSError:
                log.exception("could not save simulator state to %s", self.state_file)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _start_loop(self, app: web.Application) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self.run_loop())
        if self.news_publisher is not None:
            self._news_task = asyncio.get_running_loop().create_task(
                self.news_publisher.run(self.lock)
            )

    async def _stop_loop(self, app: web.Application) -> None:
        self.closing = True
        for task in (self._loop_task, self._news_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.news_publisher is not None:
            await self.news_publisher.close()
        await self.hub.close_all()
        self.save_state()

    def save_state(self) -> None:
        if self.state_file:
            self.market.save(self.state_file)

    # ---------------------------------------------------------------- app
    def build_app(self, run_loop: bool = True) -> web.Application:
        from . import ws

        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app[SIM_KEY] = self
        app.router.add_post("/oauth2/token", self.handle_token)
        app.router.add_post("/oauth2/revoke", self.handle_revoke)
        app.router.add_get("/api/dostk/websocket", ws.handle_websocket)
        app.router.add_post("/api/dostk/{group}", self.handle_tr)
        app.router.add_get("/news/score", self.handle_news_score)
        app.router.add_get("/news/items", self.handle_news_items)
        if self.config.admin_enabled:
            app.router.add_get("/_sim/faults", self.handle_faults_get)
            app.router.add_post("/_sim/faults", self.handle_faults_post)
            app.router.add_delete("/_sim/faults", self.handle_faults_delete)
            app.router.add_get("/_sim/clock", self.handle_clock_get)
            app.router.add_post("/_sim/clock", self.handle_clock_post)
            app.router.add_get("/_sim/health", self.handle_health)
            app.router.add_get("/_sim/conditions", self.handle_conditions)
        if run_loop:
            app.on_startup.append(self._start_loop)
        app.on_shutdown.append(self._stop_loop)
        return app

    # ---------------------------------------------------------------- responses
    def _json(
        self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        hdrs = {"x-sim-time": self.sim_time_header()}
        if headers:
            hdrs.update(headers)
        hdrs["Content-Type"] = JSON_CT
        return web.Response(body=orjson.dumps(body), status=status, headers=hdrs)

    def _error(self, err: KiwoomError, api_id: str | None = None) -> web.Response:
        headers = {"api-id": api_id, "cont-yn": "N", "next-key": ""} if api_id else None
        body = {"return_code": err.return_code, "return_msg": err.return_msg}
        return self._json(body, status=err.status, headers=headers)

    @staticmethod
    async def _read_json(request: web.Request) -> dict[str, Any]:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise KiwoomError(
                1, f"요청 본문이 너무 큽니다 (최대 {MAX_BODY_BYTES}바이트)", status=413
            ) from exc
        if not raw.strip():
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise bad_field("body", "JSON 형식이 아닙니다") from exc
        if not isinstance(body, dict):
            raise bad_field("body", "JSON object가 아닙니다")
        return body

    # ---------------------------------------------------------------- oauth2
    async def handle_token(self, request: web.Request) -> web.Response:
        api_id = request.headers.get("api-id") or "au10001"
        try:
            await self.faults.delay(api_id)
            if status := self.faults.take_5xx(api_id):
                return web.Response(status=status, text="Service Unavailable")
            body = await self._read_json(request)
            grant = body.get("grant_type")
            if not grant:
                raise auth_error(
                    8011,
                    "Access Token을 발급하는데 실패했습니다. 입력값에 grant_type이 들어오지 않았습니다",
                )
            if grant != "client_credentials":
                raise auth_error(
                    8012, "Access Token을 발급하는데 실패했습니다. grant_type의 값이 맞지 않습니다"
                )
            app_key, secret = body.get("appkey"), body.get("secretkey")
            if not app_key or not secret:
                raise auth_error(
                    8020, "입력파라미터로 appkey 또는 secretkey가 들어오지 않았습니다."
                )
            issued = self.tokens.issue(str(app_key), str(secret))
            if issued is None:
                # Deliberately says nothing about which half was wrong, and never echoes either.
                raise auth_error(8001, "App Key와 Secret Key 검증에 실패했습니다")
        except KiwoomError as err:
            return self._error(err)
        return self._json(
            {
                "expires_dt": encode.yyyymmddhhmmss(issued.expires_at),
                "token_type": "Bearer",
                "token": issued.token,
                "return_code": 0,
                "return_msg": OK_MSG,
            }
        )

    async def handle_revoke(self, request: web.Request) -> web.Response:
        try:
            body = await self._read_json(request)
            app_key, secret = body.get("appkey"), body.get("secretkey")
            if not app_key or not secret:
                raise auth_error(
                    8020, "입력파라미터로 appkey 또는 secretkey가 들어오지 않았습니다."
                )
            if not self.tokens.check_pair(str(app_key), str(secret)):
                raise auth_error(8001, "App Key와 Secret Key 검증에 실패했습니다")
            token = body.get("token")
            if not token:
                raise auth_error(
                    8016,
                    "Access Token을 폐기하는데 실패했습니다. 입력값에 Token이 들어오지 않았습니다",
                )
            issued = self.tokens.validate(str(token))
            if issued is None or issued.app_key != app_key:
                raise auth_error(
                    8015, "Access Token을 폐기하는데 실패했습니다. 실패사유=유효하지 않은 토큰"
                )
            self.tokens.revoke(str(token))
        except KiwoomError as err:
            return self._error(err)
        return self._json({"return_code": 0, "return_msg": OK_MSG})

    # ---------------------------------------------------------------- TR dispatch
    def authenticate(self, request: web.Request) -> IssuedToken:
        header = request.headers.get("authorization")
        if header is None or not header.strip():
            raise input_error(1513, "Http Header에 authorization 필드가 설정되어 있어야 합니다")
        parts = header.split(None, 1)
        if len(parts) != 2:
            raise input_error(
                1514, "입력으로 들어온 Http Header의 authorization 필드 형식이 맞지 않습니다"
            )
        if parts[0].lower() != "bearer":
            raise input_error(
                1515, "Http Header의 authorization 필드 내 Grant Type이 미리 정의된 형식이 아닙니다"
            )
        issued = self.tokens.validate(parts[1].strip())
        if issued is None:
            raise bad_token()
        return issued

    async def handle_tr(self, request: web.Request) -> web.StreamResponse:
        from . import rest

        group = request.match_info["group"]
        api_id = (request.headers.get("api-id") or "").strip()
        try:
            if not api_id:
                raise input_error(1501, "API ID가 Null이거나 값이 없습니다")
            await self.faults.delay(api_id)
            entry = rest.TR_TABLE.get(api_id)
            if entry is None:
                raise input_error(1505, f"해당 API ID는 존재하지 않습니다. API ID={api_id}")
            if entry.group != group:
                raise input_error(
                    1504,
                    "해당 URI에서는 지원하는 API ID가 아닙니다. "
                    f"API ID={api_id}, URI=/api/dostk/{group}",
                )
            token = self.authenticate(request)
            if status := self.faults.take_5xx(api_id):
                return web.Response(status=status, text="Service Unavailable")
            if self.faults.take_429(api_id) or not self.ratelimiter.allow(token.app_key, api_id):
                raise KiwoomError(THROTTLED, throttle_message(api_id), status=429)
            body = await self._read_json(request)
            ctx = RestContext(
                server=self,
                api_id=api_id,
                token=token,
                cont_yn=(request.headers.get("cont-yn") or "N").strip().upper(),
                next_key=(request.headers.get("next-key") or "").strip(),
            )
            async with self.lock:
                try:
                    result = entry.handler(ctx, body)
                except SimRejection as rej:
                    raise _from_rejection(rej) from rej
            if entry.is_order and (mode := self.faults.take_lost_reply(api_id)):
                return await self._lose_reply(request, mode)
        except KiwoomError as err:
            return self._error(err, api_id or None)
        except Exception as exc:
            # An engine bug must look like a broken server (5xx: reads may retry, an order is
            # ambiguous and gets reconciled), not like a business answer.
            log.exception("TR %s failed", api_id)
            err = KiwoomError(
                1,
                f"예기치 못한 에러가 발생했습니다[1999:실패사유={type(exc).__name__}]",
                status=500,
            )
            return self._error(err, api_id or None)
        out = dict(result.body)
        out["return_code"] = 0
        out["return_msg"] = result.return_msg
        return self._json(
            out,
            headers={"api-id": api_id, "cont-yn": result.cont_yn, "next-key": result.next_key},
        )

    async def _lose_reply(self, request: web.Request, mode: str) -> web.StreamResponse:
        """The order is in the book; the client never hears about it."""
        transport = request.transport
        if mode == "hang":
            # Hold the request until the client gives up (or the server stops).
            for _ in range(36_000):
                if self.closing or transport is None or transport.is_closing():
                    break
                await asyncio.sleep(0.1)
        if transport is not None:
            transport.abort()
        return web.Response(status=200)

    # ---------------------------------------------------------------- admin
    async def handle_faults_get(self, request: web.Request) -> web.Response:
        return self._json(self.faults.snapshot())

    async def handle_faults_post(self, request: web.Request) -> web.Response:
        try:
            payload = orjson.loads(await request.read() or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object")
            result = self.faults.apply(payload)
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            return self._json({"error": str(exc)}, status=400)
        return self._json(result)

    async def handle_faults_delete(self, request: web.Request) -> web.Response:
        self.faults.reset()
        return self._json(self.faults.snapshot())

    async def handle_clock_get(self, request: web.Request) -> web.Response:
        return self._json({"sim_time": self.sim_time_header(), "speed": self.clock.speed})

    async def handle_clock_post(self, request: web.Request) -> web.Response:
        """`{"speed": 60}` and/or `{"advance_to": "2025-01-15T09:05:00+09:00"}`."""
        try:
            payload = orjson.loads(await request.read() or b"{}")
            if "advance_to" in payload:
                target = datetime.fromisoformat(payload["advance_to"])
                if target.tzinfo is None:
                    raise ValueError("advance_to needs a UTC offset")
                async with self.lock:
                    await self.advance_to(target)
            if "speed" in payload:
                self.clock.set(self.sim_now(), admin_speed(payload["speed"]))
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
            return self._json({"error": str(exc)}, status=400)
        return self._json({"sim_time": self.sim_time_header(), "speed": self.clock.speed})

    async def handle_conditions(self, request: web.Request) -> web.Response:
        """The day's condition entries/exits: `[seq, code, "I"|"D", exchange time]`, in order."""
        rows = [[e.seq, e.code, e.kind, encode.kst(e.time).isoformat()] for e in self.market.exchange.condition_changes()]  # fmt: skip
        return self._json({"sim_time": self.sim_time_header(), "changes": rows})

    # ---------------------------------------------------------------- news (news.py)
    async def handle_news_score(self, request: web.Request) -> web.Response:
        """`GET /news/score?code=005930`: the stock's latest item today; 404 when it has none yet."""
        code = (request.query.get("code") or "").strip().removeprefix("A")
        if not (len(code) == 6 and code.isalnum()):
            return self._json({"detail": "code: a 6-character stock code is required"}, status=400)
        async with self.lock:
            if self.market.instrument(code) is None:
                return self._json({"detail": f"code: unknown stock {code}"}, status=404)
            item = self.news.score(code)
        if item is None:
            return self._json({"detail": f"no news for {code} today"}, status=404)
        return self._json(item.as_json())

    async def handle_news_items(self, request: web.Request) -> web.Response:
        """`GET /news/items?date=YYYYMMDD`: the day's items known at the simulated now, oldest first."""
        from .news import parse_yyyymmdd

        try:
            day = parse_yyyymmdd((request.query.get("date") or "").strip())
        except ValueError as exc:
            return self._json({"detail": f"date: {exc}"}, status=400)
        async with self.lock:
            items = self.news.items(day)
        return self._json({"date": day.isoformat(), "items": [i.as_json() for i in items]})

    async def handle_health(self, request: web.Request) -> web.Response:
        return self._json(
            {"ok": True, "sim_time": self.sim_time_header(), "sessions": len(self.hub.sessions)}
        )
