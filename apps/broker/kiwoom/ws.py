"""Kiwoom WebSocket client: LOGIN, PING echo, REG/REMOVE, REAL dispatch, condition search.

One long-lived connection per app key (a second one kicks the first with SYSTEM R10001). The client
remembers what the caller asked for — registrations per group and realtime conditions — and after
any disconnect it reconnects with jittered backoff, logs in again with the shared token and
restores everything: CNSRLST first (Kiwoom requires it before CNSRREQ on each connection), then
the realtime conditions, then the REG groups. REAL frames become typed events (events.py) delivered
to a callback and/or an async iterator.

Requests are strictly one at a time per connection: Kiwoom's replies carry no request id, so a
reply is matched to the single outstanding request of the same `trnm`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from apps.broker import feedhold
from apps.broker.backoff import reconnect_delay
from apps.broker.contract import Condition, ConditionHit, RealtimeEvent

from . import parse
from .errors import (
    REISSUE_CODES,
    AuthExpired,
    BrokerError,
    BrokerUnavailable,
    InvalidRequest,
    error_from_envelope,
)
from .events import TradingDay, events_from_data

log = logging.getLogger(__name__)

ACCOUNT_TYPES = ("00", "04")
EventHandler = Callable[[RealtimeEvent], Awaitable[None] | None]


class State(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    READY = "ready"
    BACKOFF = "backoff"
    SUPERSEDED = "superseded"  # another session took the app key (R10001); reconnecting slowly
    CLOSED = "closed"


@dataclass(frozen=True)
class WsOptions:
    request_timeout: float = 10.0
    reconnect_base: float = 0.5
    reconnect_cap: float = 30.0
    # A session that lived this long counts as healthy and resets the backoff.
    healthy_after: float = 10.0
    # After R10001 somebody else holds the key; coming back fast would just kick them in turn.
    takeover_backoff: float = 60.0
    # No frame at all (not even Kiwoom's PING) for this long: treat the socket as dead.
    idle_timeout: float = 180.0
    queue_size: int = 100_000


class _Pending:
    __slots__ = ("future", "match", "trnm")

    def __init__(self, trnm: str, match: Callable[[dict[str, Any]], bool] | None) -> None:
        self.trnm = trnm
        self.match = match
        self.future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()


class KiwoomWebSocket:
    def __init__(
        self,
        url: str,
        token: Callable[[], Awaitable[str]],
        invalidate_token: Callable[[str], Awaitable[str]],
        *,
        on_event: EventHandler | None = None,
        options: WsOptions | None = None,
        today: Callable[[], date] | None = None,
        throttle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._url = url
        # Awaited before every CNSRLST/CNSRREQ page: the shared query-rate limiter. Whether Kiwoom counts
        # condition searches against the REST 조회 budget (5/s) is unconfirmed (PROTOCOL.md §7.5); the
        # safer reading is that it does, so they take a slot like any query.
        self._throttle = throttle
        self._token = token
        self._invalidate = invalidate_token
        self._on_event = on_event
        self.options = options or WsOptions()
        self._today = today or TradingDay().today
        self._queue: asyncio.Queue[RealtimeEvent] = asyncio.Queue(self.options.queue_size)
        self._groups: dict[str, set[tuple[str, str]]] = {}
        self._conditions: dict[str, str] = {}  # seq → stex_tp of realtime conditions
        self._conn: ClientConnection | None = None
        self._ready = asyncio.Event()
        self._request_lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._listed = False  # CNSRLST sent on the current connection
        self._last_frame = 0.0
        self._idle_close = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.state = State.IDLE
        self.connections = 0  # successful logins (1 + reconnects)
        self.takeovers = 0
        self.dropped_events = 0

    def __repr__(self) -> str:
        return f"KiwoomWebSocket(url={self._url!r}, state={self.state.value})"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="kiwoom-ws")

    async def wait_ready(self, within: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), within or self.options.request_timeout)
        except TimeoutError:
            raise BrokerUnavailable("WebSocket not connected") from None

    async def close(self) -> None:
        self._closing = True
        self.state = State.CLOSED
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def __aenter__(self) -> KiwoomWebSocket:
        await self.start()
        await self.wait_ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            self.state = State.CONNECTING
            started = time.monotonic()
            superseded = reissued = False
            try:
                superseded = await self._session()
            except asyncio.CancelledError:
                raise
            except AuthExpired as exc:
                log.warning("Kiwoom WebSocket login refused (%s); token reissued", exc.code)
                reissued = True
            except (OSError, ConnectionClosed, BrokerError, TimeoutError) as exc:
                log.warning("Kiwoom WebSocket disconnected: %s", type(exc).__name__)
            except Exception:
                log.exception("Kiwoom WebSocket session failed")
            finally:
                self._ready.clear()
                self._conn = None
                self._fail_pending(BrokerUnavailable("WebSocket disconnected"))
            if self._closing:
                break
            if time.monotonic() - started >= self.options.healthy_after:
                attempt = 0
            attempt += 1
            if superseded:
                self.takeovers += 1
                self.state = State.SUPERSEDED
                delay = self.options.takeover_backoff * min(2 ** (self.takeovers - 1), 16)
            else:
                self.state = State.BACKOFF
                # A refused login with a reissued token (a restarted server forgot the old one) is
                # retried at the quick pace, whatever the attempt count.
                delay = reconnect_delay(
                    1 if reissued else attempt,
                    self.options.reconnect_base,
                    self.options.reconnect_cap,
                )
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection from LOGIN to disconnect. True if another session superseded us."""
        async with connect(
            self._url, ping_interval=None, max_size=None, open_timeout=self.options.request_timeout
        ) as conn:
            self._conn = conn
            self._listed = False
            token = await self._token()
            await conn.send(orjson.dumps({"trnm": "LOGIN", "token": token}).decode())
            reader = asyncio.create_task(self._read(conn))
            try:
                login = await self._await_reply("LOGIN", None)
            except BaseException:
                reader.cancel()
                raise
            if str(login.get("return_code", "")).strip() != "0":
                reader.cancel()
                err = error_from_envelope(
                    200, login.get("return_code"), login.get("return_msg", "")
                )
                if err.code in REISSUE_CODES or isinstance(err, AuthExpired):
                    await self._invalidate(token)
                    raise AuthExpired(err.message, err.code)
                raise err
            self.connections += 1
            try:
                await self._restore(conn)
            except BaseException:
                reader.cancel()
                raise
            self.state = State.READY
            self._ready.set()
            return await reader

    async def _restore(self, conn: ClientConnection) -> None:
        """Re-register everything the caller asked for. A refusal (say, a condition deleted in
        HTS meanwhile) drops that one item with a log line: failing the whole session would only
        start a reconnect loop."""
        if self._conditions:
            await self._request(conn, {"trnm": "CNSRLST"})
            self._listed = True
            for seq, stex in list(self._conditions.items()):
                frame = {"trnm": "CNSRREQ", "seq": seq, "search_type": "1", "stex_tp": stex}
                reply = await self._request(conn, frame, match=_seq_match(seq))
                try:
                    self._check(reply)
                except BrokerError as exc:
                    if isinstance(exc, BrokerUnavailable):
                        raise
                    log.error("realtime condition %s not restored (%s); dropped", seq, exc)
                    self._conditions.pop(seq, None)
        for grp, pairs in list(self._groups.items()):
            if not pairs:
                continue
            reply = await self._request(conn, _reg_frame(grp, pairs, refresh="1"))
            try:
                self._check(reply)
            except BrokerError as exc:
                if isinstance(exc, BrokerUnavailable):
                    raise
                log.error("REG group %s not restored (%s); dropped", grp, exc)
                self._groups.pop(grp, None)

    # ------------------------------------------------------------------ reading
    async def _read(self, conn: ClientConnection) -> bool:
        """Dispatch frames until the connection ends; True if ended by an R10001 takeover."""
        superseded = False
        watchdog = asyncio.create_task(self._watchdog(conn), name="kiwoom-ws-watchdog")
        transport = getattr(conn, "transport", None)
        feedhold.register(transport)  # not read during an order's critical stretch
        try:
            async for raw in conn:
                self._last_frame = time.monotonic()
                superseded = await self._handle(conn, raw) or superseded
        finally:
            feedhold.unregister(transport)
            watchdog.cancel()
        if self._idle_close:
            raise BrokerUnavailable("no frame within the idle timeout; reconnecting")
        return superseded

    async def _watchdog(self, conn: ClientConnection) -> None:
        # Kiwoom PINGs a live session; total silence means a half-open connection. Checked from
        # the side so the per-frame path stays a single timestamp.
        self._idle_close = False
        self._last_frame = time.monotonic()
        idle = self.options.idle_timeout
        while True:
            await asyncio.sleep(min(idle / 4, 5.0))
            if time.monotonic() - self._last_frame > idle:
                log.warning("no Kiwoom frame for %.0fs; closing the socket", idle)
                self._idle_close = True
                await conn.close()
                return

    async def _handle(self, conn: ClientConnection, raw: str | bytes) -> bool:
        """One frame; True if it was an R10001 takeover notice."""
        if isinstance(raw, bytes):
            raw = raw.decode()
        if raw.strip() == "PING":  # the official client also tolerates a bare-text PING
            await conn.send(raw)
            return False
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("unparseable WebSocket frame dropped")
            return False
        trnm = msg.get("trnm")
        if trnm == "REAL":
            await self._dispatch(msg.get("data") or [])
        elif trnm == "PING":
            # Kiwoom drops sessions that do not echo its PING verbatim.
            await conn.send(raw)
        elif trnm == "SYSTEM":
            code = str(msg.get("code", ""))
            log.warning("Kiwoom SYSTEM %s: %s", code, msg.get("message", ""))
            return code == "R10001"
        else:
            pending = self._pending
            if (
                pending is not None
                and pending.trnm == trnm
                and not pending.future.done()
                and (pending.match is None or pending.match(msg))
            ):
                pending.future.set_result(msg)
        return False

    async def _dispatch(self, data: list[dict[str, Any]]) -> None:
        events = events_from_data(data, self._today())
        if self._on_event is not None:
            for event in events:
                try:
                    result = self._on_event(event)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    # A consumer bug must not tear the session down (and start reconnecting).
                    log.exception("realtime event handler failed on %r", event)
            return
        for event in events:
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped_events += 1

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while True:
            yield await self._queue.get()

    async def next_event(self, within: float | None = None) -> RealtimeEvent:
        return await asyncio.wait_for(self._queue.get(), within or self.options.request_timeout)

    # ------------------------------------------------------------------ requests
    async def _await_reply(
        self, trnm: str, match: Callable[[dict[str, Any]], bool] | None
    ) -> dict[str, Any]:
        pending = _Pending(trnm, match)
        self._pending = pending
        try:
            return await asyncio.wait_for(pending.future, self.options.request_timeout)
        except TimeoutError:
            raise BrokerUnavailable(f"no {trnm} reply") from None
        finally:
            if self._pending is pending:
                self._pending = None

    async def _request(
        self,
        conn: ClientConnection,
        frame: dict[str, Any],
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        async with self._request_lock:
            waiter = asyncio.ensure_future(self._await_reply(frame["trnm"], match))
            await asyncio.sleep(0)  # let the waiter register before the reply can arrive
            try:
                await conn.send(orjson.dumps(frame).decode())
            except ConnectionClosed:
                waiter.cancel()
                raise BrokerUnavailable("WebSocket disconnected") from None
            return await waiter

    async def _live_request(
        self, frame: dict[str, Any], match: Callable[[dict[str, Any]], bool] | None = None
    ) -> dict[str, Any]:
        await self.wait_ready()
        conn = self._conn
        if conn is None:
            raise BrokerUnavailable("WebSocket not connected")
        reply = await self._request(conn, frame, match)
        self._check(reply)
        return reply

    @staticmethod
    def _check(reply: dict[str, Any]) -> None:
        rc = str(reply.get("return_code", "0")).strip()
        if rc not in ("0", ""):
            err = error_from_envelope(200, rc, str(reply.get("return_msg", "")))
            if rc == "1":
                raise InvalidRequest(err.message or f"{reply.get('trnm')} refused", err.code)
            raise err

    def _fail_pending(self, exc: BrokerError) -> None:
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(exc)

    # ------------------------------------------------------------------ registrations
    async def subscribe(self, items: list[str], types: list[str], group: str = "1") -> None:
        """REG items×types in `group` (kept across reconnects).

        If the socket is down, or drops during the REG, the registration is still remembered and
        sent on reconnect; a refusal by the server is raised and forgotten.
        """
        pairs = {(i, t) for i in items for t in types}
        current = self._groups.setdefault(group, set())
        added = pairs - current
        current.update(pairs)
        if not self._ready.is_set():
            return
        try:
            await self._live_request(_reg_frame(group, pairs, refresh="1"))
        except BrokerUnavailable:
            log.warning("REG deferred until the WebSocket reconnects")
        except BrokerError:
            current.difference_update(added)
            if not current:
                self._groups.pop(group, None)
            raise

    async def subscribe_account(self, group: str = "0") -> None:
        """Order (00) and balance (04) events of the token's account."""
        await self.subscribe([""], list(ACCOUNT_TYPES), group)

    async def unsubscribe(
        self, items: list[str] | None = None, types: list[str] | None = None, group: str = "1"
    ) -> None:
        """REMOVE some pairs of `group`, or the whole group when items/types are omitted."""
        current = self._groups.get(group, set())
        if items is None or types is None:
            pairs = set(current)
            self._groups.pop(group, None)
        else:
            pairs = {(i, t) for i in items for t in types}
            current.difference_update(pairs)
            if not current:
                self._groups.pop(group, None)
        if pairs and self._ready.is_set():
            # If this fails with the socket, the reconnect does not restore the pairs anyway.
            with contextlib.suppress(BrokerUnavailable):
                await self._live_request(_reg_frame(group, pairs, trnm="REMOVE"))

    @property
    def subscriptions(self) -> dict[str, frozenset[tuple[str, str]]]:
        return {g: frozenset(p) for g, p in self._groups.items()}

    @property
    def last_frame_at(self) -> datetime | None:
        """Wall-clock time of the last frame (PINGs included) or of the session's start."""
        if not self._last_frame:
            return None
        return datetime.now(UTC) - timedelta(seconds=time.monotonic() - self._last_frame)

    @property
    def realtime_conditions(self) -> frozenset[str]:
        return frozenset(self._conditions)

    # ------------------------------------------------------------------ condition search
    async def conditions(self) -> list[Condition]:
        return parse.conditions(await self.conditions_raw())

    async def _throttled(self) -> None:
        if self._throttle is not None:
            await self._throttle()

    async def conditions_raw(self) -> list[Any]:
        """CNSRLST `data` as sent (for the relay, which parses on the caller's side)."""
        await self._throttled()
        reply = await self._live_request({"trnm": "CNSRLST"})
        self._listed = True
        return list(reply.get("data") or [])

    async def _ensure_listed(self) -> None:
        if not self._listed:
            await self.conditions_raw()

    async def condition_search(
        self, seq: str, exchange: str = "K", max_pages: int = 50
    ) -> list[ConditionHit]:
        """One-shot search (search_type 0), paged through the *body* cont_yn/next_key."""
        return parse.condition_hits(await self.condition_search_raw(seq, exchange, max_pages))

    async def condition_search_raw(
        self, seq: str, exchange: str = "K", max_pages: int = 50
    ) -> list[Any]:
        await self._ensure_listed()
        rows: list[Any] = []
        cont, key = "N", ""
        for _ in range(max_pages):
            frame = {
                "trnm": "CNSRREQ",
                "seq": seq,
                "search_type": "0",
                "stex_tp": exchange,
                "cont_yn": cont,
                "next_key": key,
            }
            await self._throttled()
            reply = await self._live_request(frame, _seq_match(seq))
            rows.extend(reply.get("data") or [])
            cont = str(reply.get("cont_yn", "N")).strip().upper()
            key = str(reply.get("next_key", "")).strip()
            if cont != "Y" or not key:
                break
        return rows

    async def condition_subscribe(self, seq: str, exchange: str = "K") -> list[ConditionHit]:
        """Search + realtime (search_type 1): initial hits now, 02 events afterwards."""
        await self._ensure_listed()
        frame = {"trnm": "CNSRREQ", "seq": seq, "search_type": "1", "stex_tp": exchange}
        await self._throttled()
        reply = await self._live_request(frame, _seq_match(seq))
        self._conditions[seq.strip()] = exchange
        return parse.condition_hits(reply.get("data") or [])

    async def condition_unsubscribe(self, seq: str) -> None:
        self._conditions.pop(seq.strip(), None)
        if self._ready.is_set():
            await self._live_request({"trnm": "CNSRCLR", "seq": seq}, _seq_match(seq))


def _seq_match(seq: str) -> Callable[[dict[str, Any]], bool]:
    want = seq.strip()
    # The official example echoes seq space-padded; a reply without seq is accepted too.
    return lambda msg: str(msg.get("seq", want)).strip() == want


def _reg_frame(
    group: str, pairs: set[tuple[str, str]], refresh: str = "1", trnm: str = "REG"
) -> dict[str, Any]:
    by_type: dict[str, list[str]] = {}
    for item, type_ in sorted(pairs):
        by_type.setdefault(type_, []).append(item)
    data = [{"item": items, "type": [t]} for t, items in sorted(by_type.items())]
    frame: dict[str, Any] = {"trnm": trnm, "grp_no": group, "data": data}
    if trnm == "REG":
        frame["refresh"] = refresh
    return frame
