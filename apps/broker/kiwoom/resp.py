"""A minimal Redis client for the order path's one hot call: a script by its SHA (`EVALSHA`).

redis-py's asyncio client spent ≈0.55 ms of the event loop's CPU on the rate limiter's script call when
the process had been idle between orders (its connection pool, command packing, parser and response
callbacks), against ≈0.2 ms here (`bench/order_latency.py`, 2026-11-30): on the realtime process's loop
that CPU lands inside the order's database round trips. `RespClient` speaks RESP2 on one connection per
event loop and does nothing else:

- one TCP connection (host/port/db/username/password of the redis-py client it stands beside, see `of`);
  requests are written at once and replies matched in order (a FIFO of futures), so concurrent callers
  share it;
- a caller that stops waiting (cancelled, timed out) leaves its future in the FIFO: its reply, when it
  comes, is read and dropped, and the next caller still gets its own;
- errors are redis-py's exceptions (`redis.exceptions`): `ConnectionError` when the connection fails or
  is lost (every waiting caller gets it; the next call connects again), `TimeoutError` after `timeout`,
  `ResponseError` (`NoScriptError` for NOSCRIPT) for an error reply — callers keep catching `RedisError`;
- `evalsha` loads the script (`SCRIPT LOAD`) when the server does not know it, then runs it again.

Anything else (TLS, a unix socket, another connection class) is left to redis-py: `of` returns None.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

__all__ = ["RespClient", "script_sha"]


def script_sha(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


class _Error:
    """An error reply, kept as a value until it reaches its caller."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def exception(self) -> rx.ResponseError:
        if self.message.startswith("NOSCRIPT"):
            return rx.NoScriptError(self.message)
        return rx.ResponseError(self.message)


def _parse(buf: bytearray, pos: int) -> tuple[Any, int] | None:
    """One RESP2 value at `pos`: (value, the position after it), or None when incomplete."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line, pos = buf[pos], bytes(buf[pos + 1 : end]), end + 2
    if kind == 58:  # ':' integer
        return int(line), pos
    if kind == 36:  # '$' bulk string
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            return None
        return bytes(buf[pos : pos + size]), pos + size + 2
    if kind == 43:  # '+' simple string
        return line, pos
    if kind == 45:  # '-' error
        return _Error(line.decode("utf-8", "replace")), pos
    if kind == 42:  # '*' array
        size = int(line)
        if size < 0:
            return None, pos
        items = []
        for _ in range(size):
            parsed = _parse(buf, pos)
            if parsed is None:
                return None
            item, pos = parsed
            items.append(item)
        return items, pos
    raise rx.InvalidResponse(f"unknown RESP type {chr(kind)!r}")


def _pack(args: Sequence[Any]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int | float):
            data = repr(arg).encode()
        else:
            raise rx.DataError(f"cannot send {type(arg).__name__} to Redis")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.buf = bytearray()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        waiting = self.waiting
        try:
            while buf:
                parsed = _parse(buf, pos)
                if parsed is None:
                    break
                if not waiting:
                    raise rx.InvalidResponse("a reply nobody asked for")
                value, pos = parsed
                future = waiting.popleft()
                if not future.done():  # its caller stopped waiting: the reply is dropped
                    future.set_result(value)
                if pos >= len(buf):
                    break
        except (rx.InvalidResponse, ValueError) as exc:
            self._fail(rx.ConnectionError(f"Redis protocol error: {exc}"))
            return
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(rx.ConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def _fail(self, error: Exception) -> None:
        self.lost = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    def send(self, args: Sequence[Any]) -> asyncio.Future[Any]:
        assert self.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(_pack(args))
        return future


class RespClient:
    """See the module's doc. One connection per event loop, opened on first use."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.timeout = timeout
        self._proto: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    @classmethod
    def of(cls, redis: Redis) -> RespClient | None:
        """A client for the server and database of a redis-py asyncio client (None: not a plain TCP
        connection, e.g. TLS or a unix socket — use redis-py)."""
        pool = getattr(redis, "connection_pool", None)
        if pool is None or pool.connection_class is not Connection:
            return None
        kw = pool.connection_kwargs
        timeout = kw.get("socket_timeout") or 5.0
        return cls(
            kw.get("host", "localhost"),
            int(kw.get("port", 6379)),
            int(kw.get("db", 0) or 0),
            username=kw.get("username"),
            password=kw.get("password"),
            timeout=float(timeout),
        )

    async def call(self, *args: Any) -> Any:
        """One command; its reply (bytes, int, None or a list), or redis-py's exception."""
        proto = self._proto
        if proto is None or proto.lost or self._loop is not asyncio.get_running_loop():
            proto = await self._connect()
        future = proto.send(args)
        try:
            # On a timeout or a cancellation the future is cancelled: its reply is dropped on arrival.
            value = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise rx.TimeoutError(f"no Redis reply within {self.timeout:.1f}s") from None
        if type(value) is _Error:
            raise value.exception()
        return value

    async def evalsha(self, sha: str, script: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """`EVALSHA sha` with `keys` and `args`; the script loaded first when the server lacks it."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except rx.NoScriptError:
            await self.call("SCRIPT", "LOAD", script)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    def close(self) -> None:
        """Close this loop's connection (nothing to await; waiting callers get `ConnectionError`)."""
        proto, self._proto, self._loop = self._proto, None, None
        if proto is not None and proto.transport is not None:
            with contextlib.suppress(RuntimeError):  # its loop is closed already
                proto.transport.abort()

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._connecting is not None and self._loop is loop and not self._connecting.done():
            return await asyncio.shield(self._connecting)  # another caller is connecting
        self.close()
        self._loop = loop
        self._connecting = loop.create_future()
        try:
            proto = await self._open(loop)
        except BaseException as exc:
            if not self._connecting.done():
                self._connecting.set_exception(exc)
                self._connecting.exception()  # seen: raised to this caller below
            raise
        self._proto = proto
        self._connecting.set_result(proto)
        return proto

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(_Protocol, self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise rx.ConnectionError(
                f"cannot connect to Redis at {self.host}:{self.port}: {exc}"
            ) from None
        setup: list[asyncio.Future[Any]] = []
        if self.password:
            auth = (
                ["AUTH", self.username, self.password] if self.username else ["AUTH", self.password]
            )
            setup.append(proto.send(auth))
        if self.db:
            setup.append(proto.send(["SELECT", self.db]))
        try:
            for future in setup:
                value = await asyncio.wait_for(future, self.timeout)
                if type(value) is _Error:
                    raise rx.ConnectionError(f"Redis refused the connection: {value.message}")
        except BaseException:
            if proto.transport is not None:
                proto.transport.abort()
            raise
        return proto
