"""The simulator's Kiwoom WebSocket (`/api/dostk/websocket`, PROTOCOL.md §6-§7).

Owns sessions (LOGIN first, one live session per app key with SYSTEM R10001 for the loser, PING
keep-alive), realtime registrations (REG/REMOVE by grp_no with refresh), the fan-out of REAL frames
to subscribers, and condition search (CNSRLST, CNSRREQ one-shot paged / realtime, CNSRCLR, at most
10 realtime conditions per login). Engine events are turned into FID maps in adapter.py; this
module only routes the frames to the sessions that registered for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from .server import SIM_KEY

if TYPE_CHECKING:
    from .server import IssuedToken, SimServer

log = logging.getLogger(__name__)

# Realtime types a client may register (PROTOCOL.md §6.6). Only some are ever pushed by the
# simulator; registering the others succeeds and stays silent, as it would for an idle stock.
REAL_TYPE_NAMES: dict[str, str] = {
    "00": "주문체결",
    "04": "현물잔고",
    "0A": "주식기세",
    "0B": "주식체결",
    "0C": "주식우선호가",
    "0D": "주식호가잔량",
    "0E": "주식시간외호가",
    "0F": "주식당일거래원",
    "0G": "ETF NAV",
    "0H": "주식예상체결",
    "0I": "국제금환산가격",
    "0J": "업종지수",
    "0U": "업종등락",
    "0g": "주식종목정보",
    "0m": "ELW 이론가",
    "0s": "장시작시간",
    "0u": "ELW 지표",
    "0w": "종목프로그램매매",
    "1h": "VI발동/해제",
}
ACCOUNT_TYPES = frozenset({"00", "04"})
MARKET_WIDE_TYPES = frozenset({"0s"})

R10001 = {
    "trnm": "SYSTEM",
    "code": "R10001",
    "message": "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다",
}
R10004 = {"trnm": "SYSTEM", "code": "R10004", "message": "접속허용요청이 들어오지 않았습니다"}
LOGIN_FAILED = {
    "trnm": "LOGIN",
    "return_code": 805004,
    "return_msg": "토큰 인증에 실패했습니다 [CODE=8005, MESSAGE=Token이 유효하지 않습니다]",
}
PING_FRAME = orjson.dumps({"trnm": "PING"})


def real_frame(type_: str, item: str, values: dict[str, str]) -> bytes:
    return orjson.dumps(
        {
            "trnm": "REAL",
            "data": [
                {
                    "type": type_,
                    "name": REAL_TYPE_NAMES.get(type_, "조건검색"),
                    "item": item,
                    "values": values,
                }
            ],
        }
    )


@dataclass(eq=False)
class Session:
    ws: web.WebSocketResponse
    request: web.Request
    token: IssuedToken | None = None
    groups: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    conditions: set[str] = field(default_factory=set)
    listed_conditions: bool = False
    last_ping_sent: float = 0.0
    last_seen_echo: float = field(default_factory=time.monotonic)
    awaiting_echo: bool = False
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    closed: bool = False
    frames_sent: int = 0

    @property
    def app_key(self) -> str | None:
        return self.token.app_key if self.token else None

    @property
    def account(self) -> str | None:
        return self.token.account if self.token else None

    def push(self, frame: bytes, limit: int) -> bool:
        if self.closed:
            return False
        if self.queue.qsize() >= limit:
            # A consumer this far behind would be cut off by the real server too.
            self.abort()
            return False
        self.queue.put_nowait(frame)
        return True

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a dropped network, as the client sees it)."""
        self.closed = True
        self.queue.put_nowait(None)
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class Hub:
    """All sessions and the subscription index used for fan-out."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.sessions: set[Session] = set()
        self.by_app_key: dict[str, Session] = {}
        # (type, item) -> sessions; account types are indexed by account instead of item.
        self.subs: dict[tuple[str, str], set[Session]] = defaultdict(set)
        self.account_subs: dict[tuple[str, str], set[Session]] = defaultdict(set)
        self.condition_subs: dict[str, set[Session]] = defaultdict(set)
        self.frames_pushed = 0

    # ---------------------------------------------------------------- publishing
    def publish(self, type_: str, item: str, values: dict[str, str]) -> int:
        targets = self.subs.get((type_, item))
        if not targets:
            return 0
        return self._send_all(targets, real_frame(type_, item, values))

    def publish_account(self, account: str, type_: str, item: str, values: dict[str, str]) -> int:
        targets = self.account_subs.get((type_, account))
        if not targets:
            return 0
        return self._send_all(targets, real_frame(type_, item, values))

    def publish_condition(self, seq: str, item: str, values: dict[str, str]) -> int:
        targets = self.condition_subs.get(seq)
        if not targets:
            return 0
        frame = orjson.dumps(
            {
                "trnm": "REAL",
                "data": [{"type": "02", "name": "조건검색", "item": item, "values": values}],
            }
        )
        return self._send_all(targets, frame)

    def wants(self, type_: str, item: str) -> bool:
        return bool(self.subs.get((type_, item)))

    def wants_condition(self, seq: str) -> bool:
        return bool(self.condition_subs.get(seq))

    def _send_all(self, targets: Iterable[Session], frame: bytes) -> int:
        limit = self.server.config.ws_queue_limit
        n = 0
        for session in tuple(targets):
            if session.push(frame, limit):
                n += 1
        self.frames_pushed += n
        return n

    def publish_events(self, events: list[Any]) -> None:
        self.server.market.publish(events, self)

    # ---------------------------------------------------------------- registrations
    def register(self, session: Session, grp_no: str, pairs: set[tuple[str, str]], refresh: bool):
        if not refresh:
            self.unregister(session, grp_no, None)
        session.groups.setdefault(grp_no, set()).update(pairs)
        for type_, item in pairs:
            self._index(session, type_, item).add(session)

    def unregister(self, session: Session, grp_no: str, pairs: set[tuple[str, str]] | None) -> None:
        current = session.groups.get(grp_no)
        if not current:
            return
        doomed = set(current) if pairs is None else current & pairs
        current -= doomed
        if not current:
            session.groups.pop(grp_no, None)
        still = set().union(*session.groups.values()) if session.groups else set()
        for type_, item in doomed:
            if (type_, item) in still:
                continue
            self._index(session, type_, item).discard(session)

    def _index(self, session: Session, type_: str, item: str) -> set[Session]:
        if type_ in ACCOUNT_TYPES:
            return self.account_subs[(type_, session.account or "")]
        if type_ in MARKET_WIDE_TYPES:
            return self.subs[(type_, "")]
        return self.subs[(type_, item)]

    def _forget(self, session: Session) -> None:
        for grp in list(session.groups):
            self.unregister(session, grp, None)
        for seq in list(session.conditions):
            self.condition_subs[seq].discard(session)
        session.conditions.clear()
        self.sessions.discard(session)
        if session.app_key and self.by_app_key.get(session.app_key) is session:
            del self.by_app_key[session.app_key]

    # ---------------------------------------------------------------- session control
    def drop(self, app_key: str | None = None) -> int:
        victims = [s for s in self.sessions if app_key is None or s.app_key == app_key]
        for s in victims:
            s.abort()
            self._forget(s)
        return len(victims)

    async def close_all(self) -> None:
        for s in list(self.sessions):
            s.closed = True
            s.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await s.ws.close()
            self._forget(s)

    def check_pings(self) -> None:
        """Send PINGs and cut sessions that stopped echoing them (called from the run loop)."""
        cfg = self.server.config
        now = time.monotonic()
        for s in list(self.sessions):
            if s.token is None or s.closed:
                continue
            if s.awaiting_echo and now - s.last_seen_echo > cfg.ping_timeout_s:
                log.info("closing WebSocket session of %s: PING not echoed", s.app_key)
                s.abort()
                self._forget(s)
                continue
            if now - s.last_ping_sent >= cfg.ping_interval_s:
                s.last_ping_sent = now
                if not s.awaiting_echo:
                    s.awaiting_echo = True
                    s.last_seen_echo = now
                s.push(PING_FRAME, cfg.ws_queue_limit)


# --------------------------------------------------------------------------- connection handler
async def _writer(session: Session) -> None:
    ws = session.ws
    try:
        while True:
            frame = await session.queue.get()
            if frame is None or ws.closed:
                return
            await ws.send_frame(frame, WSMsgType.TEXT)
            session.frames_sent += 1
    except (ConnectionError, RuntimeError, asyncio.CancelledError):
        return


async def _send(session: Session, payload: dict[str, Any]) -> None:
    session.push(orjson.dumps(payload), session_limit(session))


def session_limit(session: Session) -> int:
    return session.request.app[SIM_KEY].config.ws_queue_limit


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    server: SimServer = request.app[SIM_KEY]
    ws = web.WebSocketResponse(compress=False, autoping=True, max_msg_size=1024 * 1024)
    await ws.prepare(request)
    session = Session(ws=ws, request=request)
    server.hub.sessions.add(session)
    writer = asyncio.get_running_loop().create_task(_writer(session))
    try:
        await _serve(server, session)
    finally:
        server.hub._forget(session)
        session.closed = True
        session.queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(writer, timeout=2)
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
    return ws


async def _serve(server: SimServer, session: Session) -> None:
    ws = session.ws
    cfg = server.config
    # The login deadline counts from the connection: frames before LOGIN (PINGs included) do
    # not extend it.
    login_deadline = time.monotonic() + cfg.login_timeout_s
    while not session.closed:
        timeout = None
        if session.token is None:
            timeout = max(0.0, login_deadline - time.monotonic())
        try:
            msg = await ws.receive(timeout=timeout)
        except TimeoutError:
            await _send(session, R10004)
            await _drain_and_close(session)
            return
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        if msg.type != WSMsgType.TEXT:
            continue
        text = msg.data
        if text.strip() == "PING":  # the official client also tolerates a bare PING
            session.awaiting_echo = False
            session.last_seen_echo = time.monotonic()
            continue
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(frame, dict):
            continue
        trnm = str(frame.get("trnm", ""))
        if session.token is None and trnm not in ("LOGIN", "PING"):
            await _send(session, R10004)
            await _drain_and_close(session)
            return
        handler = HANDLERS.get(trnm)
        if handler is None:
            await _send(
                session,
                {"trnm": trnm, "return_code": 1, "return_msg": f"지원하지 않는 trnm입니다: {trnm}"},
            )
            continue
        keep_open = await handler(server, session, frame)
        if keep_open is False:
            await _drain_and_close(session)
            return


async def _drain_and_close(session: Session) -> None:
    # Give the writer a moment to flush the last frame before the close handshake.
    for _ in range(50):
        if session.queue.empty():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    session.closed = True
    with contextlib.suppress(Exception):
        await session.ws.close()


# --------------------------------------------------------------------------- frame handlers
async def _on_login(server: SimServer, session: Session, frame: dict[str, Any]) -> bool:
    raw = str(frame.get("token") or "")
    if raw.lower().startswith("bearer "):
        raw = raw[7:]
    issued = server.tokens.validate(raw.strip())
    if issued is None:
        await _send(session, LOGIN_FAILED)
        return False
    previous = server.hub.by_app_key.get(issued.app_key)
    if previous is not None and previous is not session:
        previous.push(orjson.dumps(R10001), server.config.ws_queue_limit)
        server.hub._forget(previous)
        previous.closed = True
        previous.queue.put_nowait(None)
        asyncio.get_running_loop().create_task(_close_later(previous))
    session.token = issued
    server.hub.by_app_key[issued.app_key] = session
    session.last_seen_echo = time.monotonic()
    session.last_ping_sent = time.monotonic()
    await _send(session, {"trnm": "LOGIN", "return_code": 0, "return_msg": ""})
    return True


async def _close_later(session: Session) -> None:
    # The writer exits on the None sentinel after flushing R10001; then close the socket.
    for _ in range(100):
        if session.queue.empty():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.02)
    with contextlib.suppress(Exception):
        await session.ws.close()


async def _on_ping(server: SimServer, session: Session, frame: dict[str, Any]) -> bool:
    # An echo of our PING. Client-initiated PINGs are not answered: answering would make two
    # echoing peers bounce the frame forever (PROTOCOL.md §11 leaves this open).
    session.awaiting_echo = False
    session.last_seen_echo = time.monotonic()
    return True


def _pairs(frame: dict[str, Any]) -> set[tuple[str, str]] | None:
    data = frame.get("data")
    if data is None:
        return None
    if not isinstance(data, list):
        raise ValueError("data must be a list")
    pairs: set[tuple[str, str]] = set()
    for entry in data:
        if not isinstance(entry, dict):
            raise ValueError("data entries must be objects")
        items = entry.get("item") or [""]
        types = entry.get("type") or []
        if isinstance(items, str):
            items = [items]
        if isinstance(types, str):
            types = [types]
        if not isinstance(items, list) or not isinstance(types, list):
            raise ValueError("item and type must be strings or lists of strings")
        for type_ in types:
            # A nested list or object is a client error answered in a frame, never a crash
            # that closes the session.
            if not isinstance(type_, str) or type_ not in REAL_TYPE_NAMES:
                raise ValueError(f"unknown realtime type {type_}")
            for item in items:
                # KRX-only venue: NXT/SOR aliases ('005930_NX', '005930_AL') watch the KRX
                # stock, and pushes name the plain code.
                code = str(item).split("_", 1)[0]
                pairs.add((str(type_), "" if type_ in ACCOUNT_TYPES else code))
    return pairs


async def _on_reg(server: SimServer, session: Session, frame: dict[str, Any]) -> bool:
    trnm = str(frame.get("trnm"))
    grp_no = str(frame.get("grp_no") or "1")
    try:
        pairs = _pairs(frame)
        if trnm == "REG":
            if not pairs:
                raise ValueError("nothing to register")
            refresh = str(frame.get("refresh", "1") or "1") != "0"
            server.hub.register(session, grp_no, pairs, refresh)
        else:
            server.hub.unregister(session, grp_no, pairs)
    except ValueError as exc:
        await _send(session, {"trnm": trnm, "return_code": 1, "return_msg": str(exc)})
        return True
    await _send(session, {"trnm": trnm, "return_code": 0, "return_msg": ""})
    return True


async def _on_cnsrlst(server: SimServer, session: Session, frame: dict[str, Any]) -> bool:
    session.listed_conditions = True
    data = [[seq, name] for seq, name in server.market.condition_list()]
    await _send(session, {"trnm": "CNSRLST", "return_code": 0, "return_msg": "", "data": data})
    return True


async def _on_cnsrreq(server: SimServer, session: Session, frame: dict[str, Any]) -> bool:
    seq = str(frame.get("seq", "")).strip()
    search_type = str(frame.get("search_type", "0")).strip()
    base = {"trnm": "CNSRREQ", "seq": seq}
    if not server.market.has_condition(seq):
        await _send(
            session, {**base, "return_code": 1, "return_msg": f"조건검색식이 없습니다. seq={seq}"}
        )
        return True
    async with server.lock:
        codes = server.market.condition_members(seq)
    if search_type == "1":
        if (
            seq not in session.conditions
            and len(session.conditions) >= server.config.max_realtime_conditions
        ):
            await _send(
                session,
                {
                    **base,
                    "return_code": 1,
                    "return_msg": "실시간 조건검색은 최대 "
                    f"{server.config.max_realtime_conditions}개까지 가능합니다",
                },
            )
            return True
        session.conditions.add(seq)
        server.hub.condition_subs[seq].add(session)
        server.market.condition_watch(seq, True)
        data = [{"jmcode": f"A{code}"} for code in codes]
        await _send(session, {**base, "return_code": 0, "return_msg": "", "data": data})
        return True
    # One-shot search, paged in the body.
    size = server.config.condition_page_size
    start = 0
    if str(frame.get("cont_yn", "N")).upper() == "Y":
        try:
            start = max(0, int(str(frame.get("next_key") or "0")))
        except ValueError:
            start = 0
    page = codes[start : start + size]
    more = start + size < len(codes)
    rows = server.market.condition_rows(page)
    await _send(
        session,
        {
            **base,
            "cont_yn": "Y" if more else "N",
            "next_key": str(start + size) if more else "",
            "return_code": 0,
            "return_msg": "",
            "data": rows,
        },
    )
    return True


async def _on_cnsrclr(server: SimServer, session: Session, frame: dict[str, Any]) -> bool:
    seq = str(frame.get("seq", "")).strip()
    session.conditions.discard(seq)
    server.hub.condition_subs[seq].discard(session)
    if not server.hub.condition_subs[seq]:
        server.market.condition_watch(seq, False)
    await _send(session, {"trnm": "CNSRCLR", "seq": seq, "return_code": 0, "return_msg": ""})
    return True


HANDLERS = {
    "LOGIN": _on_login,
    "PING": _on_ping,
    "REG": _on_reg,
    "REMOVE": _on_reg,
    "CNSRLST": _on_cnsrlst,
    "CNSRREQ": _on_cnsrreq,
    "CNSRCLR": _on_cnsrclr,
}
