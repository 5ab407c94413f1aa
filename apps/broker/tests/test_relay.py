"""The condition-search relay over real Redis: a slow answer (longer than redis-py's socket timeout) still
arrives, and a request whose caller gave up is not served."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from apps.broker.kiwoom import errors, relay

from .client_support import REDIS_URL, cleanup_prefix, unique_prefix


class SlowSocket:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.searches: list[str] = []

    async def conditions_raw(self) -> list[Any]:
        return [["0", "조건"]]

    async def condition_search_raw(self, seq: str) -> list[Any]:
        self.searches.append(seq)
        await asyncio.sleep(self.delay)
        return [{"9001": "A005930"}]


@pytest.mark.slow
async def test_a_slow_answer_outlasting_the_socket_timeout_arrives() -> None:
    prefix = unique_prefix()
    redis = Redis.from_url(REDIS_URL)
    socket = SlowSocket(delay=6.0)  # redis-py 8's default socket timeout is 5 s
    server = relay.RelayServer(Redis.from_url(REDIS_URL), socket, prefix, "key")
    await server.start()
    try:
        rows = await relay.relay_call(redis, prefix, "key", "condition_search", 15, seq="3")
        assert rows == [{"9001": "A005930"}]
    finally:
        await server.close()
        await redis.aclose()
        await cleanup_prefix(prefix)


async def test_an_expired_request_is_not_served() -> None:
    prefix = unique_prefix()
    redis = Redis.from_url(REDIS_URL)
    socket = SlowSocket(delay=0.0)
    owner, requests, _ = relay._keys(prefix, "key")
    await redis.set(owner, "someone", ex=10)  # an owner that is alive but busy
    try:
        with pytest.raises(errors.BrokerUnavailable):
            await relay.relay_call(redis, prefix, "key", "condition_search", 0.3, seq="1")
        # Now the owner gets to its queue: the abandoned request is skipped.
        server = relay.RelayServer(Redis.from_url(REDIS_URL), socket, prefix, "key")
        await server.start()
        for _ in range(100):  # up to 5 s for the owner to drain its queue
            if not await redis.llen(requests):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        await server.close()
        assert socket.searches == [] and server.served == 0
    finally:
        await redis.aclose()
        await cleanup_prefix(prefix)
