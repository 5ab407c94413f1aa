"""The Redis-backed token store and shared rate limiter (real Redis from REDIS_URL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from apps.broker.kiwoom.auth import IssuedToken, TokenStore
from apps.broker.kiwoom.ratelimit import ApiClass, RateBudget, SharedRateLimiter, api_class

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix(redis: Redis) -> str:
    return f"{os.environ.get('REDIS_KEY_PREFIX', '')}test-client:{uuid.uuid4().hex}"


async def _cleanup(redis: Redis, prefix: str) -> None:
    keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


class FakeIssuer:
    def __init__(self, lifetime: timedelta = timedelta(hours=24), delay: float = 0.0) -> None:
        self.count = 0
        self.lifetime = lifetime
        self.delay = delay

    async def __call__(self) -> IssuedToken:
        self.count += 1
        await asyncio.sleep(self.delay)
        return IssuedToken(f"token-{self.count}", datetime.now(UTC) + self.lifetime)


async def test_one_token_for_many_concurrent_callers(redis: Redis, prefix: str) -> None:
    issuer = FakeIssuer(delay=0.05)
    stores = [TokenStore(redis, "APPKEY-123456", issuer, key_prefix=prefix) for _ in range(8)]
    try:
        tokens = await asyncio.gather(*(s.get() for s in stores))
        assert set(tokens) == {"token-1"}
        assert issuer.count == 1
    finally:
        await _cleanup(redis, prefix)


async def test_refresh_before_expiry(redis: Redis, prefix: str) -> None:
    issuer = FakeIssuer(lifetime=timedelta(minutes=4))  # inside the 5-minute margin
    store = TokenStore(redis, "APPKEY-123456", issuer, key_prefix=prefix)
    try:
        assert await store.get() == "token-1"
        assert await store.get() == "token-2"
        issuer.lifetime = timedelta(hours=24)
        assert await store.get() == "token-3"
        assert await store.get() == "token-3"
        info = await store.info()
        assert info.valid and info.expires_at is not None
    finally:
        await _cleanup(redis, prefix)


async def test_invalidate_reissues_once(redis: Redis, prefix: str) -> None:
    issuer = FakeIssuer(delay=0.02)
    a = TokenStore(redis, "APPKEY-123456", issuer, key_prefix=prefix)
    b = TokenStore(redis, "APPKEY-123456", issuer, key_prefix=prefix)
    try:
        stale = await a.get()
        # Two processes see the same refusal; only one new token is issued.
        new_a, new_b = await asyncio.gather(a.invalidate(stale), b.invalidate(stale))
        assert new_a == new_b == "token-2"
        assert issuer.count == 2
    finally:
        await _cleanup(redis, prefix)


async def test_token_store_hides_credentials(redis: Redis, prefix: str) -> None:
    store = TokenStore(redis, "SECRET-LOOKING-APPKEY", FakeIssuer(), key_prefix=prefix)
    try:
        await store.get()
        assert "SECRET-LOOKING-APPKEY" not in repr(store)
        keys = [k.decode() async for k in redis.scan_iter(f"{prefix}:*")]
        assert keys and all("SECRET-LOOKING-APPKEY" not in k for k in keys)
        assert "token-1" not in repr(await store.peek())
    finally:
        await _cleanup(redis, prefix)


async def test_limiter_spaces_requests_across_clients(redis: Redis, prefix: str) -> None:
    # Slow budgets so Redis round-trip times cannot change the outcome.
    budgets = {ApiClass.QUERY: RateBudget(0.5), ApiClass.ORDER: RateBudget(0.5, burst=3)}
    limiters = [SharedRateLimiter(redis, budgets, key_prefix=prefix) for _ in range(3)]
    try:
        # Back to back, only one query slot is free (burst 1); the others must wait.
        waits = [await lim.try_acquire(ApiClass.QUERY) for lim in limiters]
        assert waits[0] == 0
        assert all(1.5 < w <= 2.0 for w in waits[1:])
        # Orders have a burst of 3 and their own bucket.
        order_waits = [await lim.try_acquire(ApiClass.ORDER) for lim in limiters]
        assert order_waits == [0, 0, 0]
        assert await limiters[0].try_acquire(ApiClass.ORDER) > 0
    finally:
        await _cleanup(redis, prefix)


async def test_limiter_acquire_counts_and_penalty(redis: Redis, prefix: str) -> None:
    lim = SharedRateLimiter(redis, {ApiClass.QUERY: RateBudget(20.0)}, key_prefix=prefix)
    try:
        for _ in range(3):
            await lim.acquire(ApiClass.QUERY)
        assert lim.waits >= 2
        await lim.penalize(ApiClass.QUERY, 5.0)
        wait = await lim.try_acquire(ApiClass.QUERY)
        assert 4.0 < wait <= 5.0
    finally:
        await _cleanup(redis, prefix)


def test_api_classes() -> None:
    assert api_class("kt10000") is ApiClass.ORDER
    assert api_class("kt10003") is ApiClass.ORDER
    assert api_class("ka10001") is ApiClass.QUERY
    assert api_class("kt00018") is ApiClass.QUERY
