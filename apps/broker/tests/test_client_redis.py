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
from apps.broker.kiwoom.ratelimit import (
    Priority,
    RateBudget,
    SharedRateLimiter,
    default_priority,
)

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
    # A slow budget so Redis round-trip times cannot change the outcome.
    limiters = [SharedRateLimiter(redis, RateBudget(0.5), f"{prefix}:rl") for _ in range(3)]
    try:
        # Back to back, only one slot is free (burst 1); the others must wait, in arrival order.
        waits = [await lim.try_acquire(Priority.QUOTE, f"w{i}") for i, lim in enumerate(limiters)]
        assert waits[0] == 0
        assert 1.5 < waits[1] <= 2.0
        assert 3.5 < waits[2] <= 4.0  # queued behind w1
    finally:
        await _cleanup(redis, prefix)


async def test_limiter_burst(redis: Redis, prefix: str) -> None:
    lim = SharedRateLimiter(redis, RateBudget(0.5, burst=3), f"{prefix}:rl")
    try:
        assert [await lim.try_acquire(Priority.ORDER, f"o{i}") for i in range(3)] == [0, 0, 0]
        assert await lim.try_acquire(Priority.ORDER, "o3") > 0
    finally:
        await _cleanup(redis, prefix)


async def test_an_orders_slot_reads_the_token_in_the_same_script(redis: Redis, prefix: str) -> None:
    """The order path takes its slot and the shared token in one round trip: the token's key read
    by the slot's script once the slot is taken (None while there is no token), and only then."""
    lim = SharedRateLimiter(redis, RateBudget(0.5, burst=2), f"{prefix}:rl")
    issuer = FakeIssuer(lifetime=timedelta(minutes=4))
    store = TokenStore(redis, "APPKEY-123456", issuer, key_prefix=prefix)
    try:
        assert await lim.acquire(Priority.ORDER, read=store.key) is None  # no token issued yet
        token = await store.get()
        raw = await lim.acquire(Priority.ORDER, read=store.key)
        # Read with the slot, but inside the refresh margin: not usable, `get()` reissues.
        assert raw is not None and store.usable(raw) is None
        issuer.lifetime = timedelta(hours=24)
        assert await store.get() != token
        waiting = asyncio.ensure_future(lim.acquire(Priority.ORDER, read=store.key))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the burst is used up: no slot, no token
        assert store.usable(await asyncio.wait_for(waiting, 5)) == "token-2"
        assert store.usable(None) is None
    finally:
        await _cleanup(redis, prefix)


async def test_limiter_acquire_counts_and_penalty(redis: Redis, prefix: str) -> None:
    lim = SharedRateLimiter(redis, RateBudget(20.0), f"{prefix}:rl")
    try:
        for _ in range(3):
            await lim.acquire(Priority.QUOTE)
        assert lim.waits >= 2
        await lim.penalize(5.0)
        wait = await lim.try_acquire(Priority.QUOTE, "late")
        assert 4.0 < wait <= 5.0
    finally:
        await _cleanup(redis, prefix)


async def test_higher_class_takes_the_next_slot(redis: Redis, prefix: str) -> None:
    # Two "processes" (separate limiter objects) share one budget of 5/s.
    backfill = SharedRateLimiter(redis, RateBudget(5.0), f"{prefix}:rl")
    orders = SharedRateLimiter(redis, RateBudget(5.0), f"{prefix}:rl")
    try:
        assert await backfill.try_acquire(Priority.BACKFILL, "b0") == 0
        first = await backfill.try_acquire(Priority.BACKFILL, "b1")  # queued first
        assert first > 0
        assert await orders.try_acquire(Priority.ORDER, "o1") > 0  # arrives later, jumps ahead
        await asyncio.sleep(first + 0.05)
        # The slot is free now and the backfill waiter asks first: it is not its turn.
        assert await backfill.try_acquire(Priority.BACKFILL, "b1") > 0
        assert await orders.try_acquire(Priority.ORDER, "o1") == 0
        usage = {u.name: u for u in await orders.usage()}
        assert usage["order"].requests_last_minute == 1
        assert usage["chart"].requests_last_minute == 1
        assert (usage["chart"].waiting, usage["order"].waiting) == (1, 0)
    finally:
        await _cleanup(redis, prefix)


async def test_order_waits_at_most_one_slot_behind_a_saturating_backfill(
    redis: Redis, prefix: str
) -> None:
    budget = RateBudget(20.0)
    granted: list[str] = []

    async def backfill(lim: SharedRateLimiter) -> None:
        while True:
            await lim.acquire(Priority.BACKFILL)
            granted.append("chart")

    procs = [SharedRateLimiter(redis, budget, f"{prefix}:rl") for _ in range(2)]
    workers = [asyncio.create_task(backfill(lim)) for lim in procs for _ in range(4)]
    try:
        await asyncio.sleep(0.5)  # the queue is full of backfill waiters now
        order_lim = SharedRateLimiter(redis, budget, f"{prefix}:rl")
        slots_waited = []
        for _ in range(5):
            before = len(granted)
            await order_lim.acquire(Priority.ORDER)
            slots_waited.append(len(granted) - before)
            await asyncio.sleep(0.12)
        # Slots measured in grants to others, not in wall-clock time.
        assert max(slots_waited) <= 1, slots_waited
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await _cleanup(redis, prefix)


async def test_cancelled_waiter_leaves_the_queue(redis: Redis, prefix: str) -> None:
    lim = SharedRateLimiter(redis, RateBudget(0.2), f"{prefix}:rl")
    try:
        await lim.acquire(Priority.CHART)
        waiter = asyncio.create_task(lim.acquire(Priority.ORDER))
        await asyncio.sleep(0.2)
        assert {u.name: u.waiting for u in await lim.usage()}["order"] == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert sum(u.waiting for u in await lim.usage()) == 0
    finally:
        await _cleanup(redis, prefix)


def test_default_priorities() -> None:
    assert default_priority("kt10000") is Priority.ORDER
    assert default_priority("kt10003") is Priority.ORDER
    assert default_priority("ka10075") is Priority.ORDER_STATUS is Priority.RECONCILE
    assert default_priority("ka10032") is Priority.SCAN is Priority.CONDITION
    assert default_priority("ka10001") is Priority.QUOTE is Priority.BALANCE
    assert default_priority("kt00018") is Priority.BALANCE
    assert default_priority("ka10081") is Priority.CHART is Priority.BACKFILL
    assert Priority.ORDER < Priority.ORDER_STATUS < Priority.SCAN < Priority.QUOTE < Priority.CHART
