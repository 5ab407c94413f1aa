"""One access token per app key, shared by every process through Redis (au10001/au10002).

Kiwoom may invalidate an app key's previous token when a new one is issued, so issuance is
serialised by a Redis lock and every process reads the one stored token. The token is refreshed at
least `refresh_margin` (5 minutes) before `expires_dt`, which is KST wall clock (PROTOCOL §2.1).
When the server refuses a token (8005/8031/8103) the caller reports it with `invalidate(token)`;
only the first reporter reissues — the others find a newer token already stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from redis.asyncio import Redis

from apps.broker.contract.types import TokenInfo

from .errors import BrokerUnavailable

REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)
    expires_at: datetime  # aware


Issuer = Callable[[], Awaitable[IssuedToken]]


def app_key_hint(app_key: str) -> str:
    """Enough of an app key to tell keys apart in a terminal, never enough to use it."""
    if len(app_key) <= 8:
        return "****"
    return f"{app_key[:4]}…{app_key[-2:]}"


class TokenStore:
    def __init__(
        self,
        redis: Redis,
        app_key: str,
        issuer: Issuer,
        key_prefix: str = "stockagent:kiwoom",
        refresh_margin: timedelta = REFRESH_MARGIN,
        lock_timeout: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # The app key is hashed into the Redis key so a key listing does not show it.
        digest = hashlib.sha256(app_key.encode()).hexdigest()[:16]
        self._key = f"{key_prefix}:token:{digest}"
        self._lock_key = f"{self._key}:lock"
        self._redis = redis
        self._issuer = issuer
        self._hint = app_key_hint(app_key)
        self._margin = refresh_margin
        self._lock_timeout = lock_timeout
        self._now = now
        self.issued_count = 0  # tokens this process issued (diagnostics/tests)

    def __repr__(self) -> str:
        return f"TokenStore(app_key={self._hint!r})"

    @property
    def key(self) -> str:
        """The Redis key of the shared token (the order path reads it with its rate-limit slot)."""
        return self._key

    async def _read(self) -> IssuedToken | None:
        return self._parse(await self._redis.get(self._key))

    @staticmethod
    def _parse(raw: bytes | str | None) -> IssuedToken | None:
        if not raw:
            return None
        data = orjson.loads(raw)
        return IssuedToken(data["token"], datetime.fromisoformat(data["expires_at"]))

    def usable(self, raw: bytes | str | None) -> str | None:
        """The token in `raw` (the key's value, read elsewhere) when it is fresh; else None (then
        `get()`, which issues one under the lock)."""
        tok = self._parse(raw)
        return tok.token if tok is not None and self._fresh(tok) else None

    def _fresh(self, tok: IssuedToken | None) -> bool:
        return tok is not None and tok.expires_at - self._margin > self._now()

    async def get(self) -> str:
        """The current token, issuing (under the lock) when there is none or it is near expiry."""
        tok = await self._read()
        if tok is not None and self._fresh(tok):
            return tok.token
        return await self._reissue(stale=tok.token if tok else None)

    async def invalidate(self, token: str) -> str:
        """The server refused `token`: reissue unless another process already replaced it."""
        return await self._reissue(stale=token)

    async def _reissue(self, stale: str | None) -> str:
        lock = self._redis.lock(
            self._lock_key, timeout=self._lock_timeout, blocking_timeout=self._lock_timeout
        )
        if not await lock.acquire():
            raise BrokerUnavailable("timed out waiting for the token issuance lock")
        try:
            current = await self._read()
            if current is not None and current.token != stale and self._fresh(current):
                return current.token
            fresh = await self._issuer()
            self.issued_count += 1
            ttl = max(int((fresh.expires_at - self._now()).total_seconds()), 1)
            payload = {"token": fresh.token, "expires_at": fresh.expires_at.isoformat()}
            await self._redis.set(self._key, orjson.dumps(payload), ex=ttl)
            return fresh.token
        finally:
            await lock.release()

    async def peek(self) -> IssuedToken | None:
        return await self._read()

    async def info(self) -> TokenInfo:
        tok = await self._read()
        return TokenInfo(self._hint, tok.expires_at if tok else None, self._fresh(tok))

    async def forget(self) -> IssuedToken | None:
        """Drop the stored token (after revoking it) and return what was stored."""
        tok = await self._read()
        await self._redis.delete(self._key)
        return tok
