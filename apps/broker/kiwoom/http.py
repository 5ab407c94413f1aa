"""The REST client's HTTP transport: aiohttp's client (its HTTP parser is C), with the two failure
kinds the client must tell apart for orders.

Why not httpx (the project's HTTP client elsewhere): an order's POST on a keep-alive loopback
connection cost ≈1.8 ms of CPU and 1.35 ms to the server's handler with httpx (h11 parses in
Python), 0.55 ms and 0.54 ms with aiohttp (`bench/order_latency.py`); on the order path that is a
third of the intent → wire budget.

Failures are mapped at this boundary:

- `NotSent`: the request cannot have reached the server (no connection could be made within the
  connect timeout, or it was refused). A read may be retried; an order was not placed.
- `MaybeSent`: the connection existed and failed while the request or its reply was in flight
  (a read timeout, a reset, a disconnect, a malformed reply). An order's outcome is unknown
  (`AmbiguousOutcome`: reconcile, never resend).

The session is made on first use in the running event loop (aiohttp binds it to its loop) and made
again if the client is used from another loop later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy


class TransportError(Exception):
    """Base of the transport's failures (the message names the underlying error's type only)."""


class NotSent(TransportError):
    """The request cannot have reached the server."""


class MaybeSent(TransportError):
    """The request may have reached the server; its reply is lost."""


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    content: bytes
    headers: CIMultiDictProxy[str] | Mapping[str, str]


class AioHttp:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        # As httpx's single timeout: each of connecting (a pooled connection included) and every
        # read may take `timeout`; no total limit (the callers set theirs).
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            # A session left on another (finished) loop cannot be closed from here; its sockets
            # go with that loop.
            session = self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                # No cookies, no proxies from the environment: the broker's host and nothing else.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
            )
            self._loop = loop
        return session

    async def post(self, path: str, content: bytes, headers: Mapping[str, str]) -> Reply:
        session = self._get()
        try:
            async with session.post(
                self.base_url + path, data=content, headers=dict(headers)
            ) as resp:
                body = await resp.read()
                return Reply(resp.status, body, resp.headers)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NotSent(type(exc).__name__) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise MaybeSent(type(exc).__name__) from None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
