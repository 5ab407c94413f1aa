"""`apps.broker.kiwoom.resp`: the rate limiter's own Redis connection (real Redis from REDIS_URL)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import exceptions as rx
from redis.asyncio import Redis

from apps.broker.kiwoom.ratelimit import Priority, RateBudget, SharedRateLimiter
from apps.broker.kiwoom.resp import RespClient, script_sha

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return f"{os.environ.get('REDIS_KEY_PREFIX', '')}test-resp:{uuid.uuid4().hex}"


@pytest.fixture
async def resp(redis: Redis) -> AsyncIterator[RespClient]:
    client = RespClient.of(redis)
    assert client is not None
    yield client
    client.close()


async def test_replies_of_every_kind_on_the_url_database(
    redis: Redis, resp: RespClient, key: str
) -> None:
    try:
        assert await resp.call("SET", key, "값") == b"OK"
        assert await redis.get(key) == "값".encode()  # the same database as redis-py's client
        assert await resp.call("GET", key) == "값".encode()
        assert await resp.call("GET", f"{key}:missing") is None
        assert await resp.call("INCRBY", f"{key}:n", 41) == 41
        assert await resp.call("RPUSH", f"{key}:l", "a", b"b", 3) == 3
        assert await resp.call("LRANGE", f"{key}:l", 0, -1) == [b"a", b"b", b"3"]
        with pytest.raises(rx.ResponseError, match="WRONGTYPE"):
            await resp.call("INCR", f"{key}:l")
        assert await resp.call("GET", key) == "값".encode()  # still in step after an error
    finally:
        await redis.delete(key, f"{key}:n", f"{key}:l")


async def test_concurrent_callers_each_get_their_own_reply(
    redis: Redis, resp: RespClient, key: str
) -> None:
    try:
        await redis.mset({f"{key}:{i}": str(i) for i in range(200)})
        got = await asyncio.gather(*(resp.call("GET", f"{key}:{i}") for i in range(200)))
        assert got == [str(i).encode() for i in range(200)]
    finally:
        await redis.delete(*(f"{key}:{i}" for i in range(200)))


async def test_a_caller_that_stops_waiting_does_not_shift_the_replies(
    redis: Redis, resp: RespClient, key: str
) -> None:
    """A cancelled call's reply still comes; it is dropped, and the next caller gets its own."""
    try:
        await redis.set(key, "mine")
        slow = asyncio.ensure_future(
            resp.call("EVAL", "redis.call('GET', KEYS[1]); return 'slow'", 1, key)
        )
        await asyncio.sleep(0)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await resp.call("GET", key) == b"mine"
    finally:
        await redis.delete(key)


async def test_evalsha_loads_an_unknown_script(redis: Redis, resp: RespClient, key: str) -> None:
    script = f"-- {uuid.uuid4().hex}\nreturn {{KEYS[1], ARGV[1]}}"
    sha = script_sha(script)
    assert (await redis.script_exists(sha)) == [False]
    assert await resp.evalsha(sha, script, [key], [7]) == [key.encode(), b"7"]
    assert (await redis.script_exists(sha)) == [True]


async def test_a_killed_connection_fails_its_callers_and_the_next_call_reconnects(
    redis: Redis, resp: RespClient, key: str
) -> None:
    """Redis drops the connection (CLIENT KILL, a restart): the caller waiting on it gets redis-py's
    ConnectionError (a RedisError, as callers expect) and the next call opens a new connection."""
    try:
        await redis.set(key, "after")
        client_id = await resp.call("CLIENT", "ID")
        waiting = asyncio.ensure_future(resp.call("BLPOP", f"{key}:never", 5))
        await asyncio.sleep(0.05)
        assert await redis.execute_command("CLIENT", "KILL", "ID", client_id) == 1
        with pytest.raises(rx.ConnectionError):
            await waiting
        assert await resp.call("GET", key) == b"after"
    finally:
        await redis.delete(key)


async def test_no_server_is_a_connection_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RespClient("127.0.0.1", port, timeout=1.0)
    with pytest.raises(rx.ConnectionError, match="cannot connect"):
        await client.call("PING")
    client.close()


async def test_a_silent_server_is_a_timeout(key: str) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient("127.0.0.1", port, timeout=0.2)
    try:
        with pytest.raises(rx.TimeoutError):
            await client.call("PING")
    finally:
        client.close()
        server.close()


def test_tls_and_unix_sockets_stay_with_redis_py() -> None:
    assert RespClient.of(Redis.from_url("rediss://127.0.0.1:6380/0")) is None
    assert RespClient.of(Redis.from_url("unix:///tmp/redis.sock")) is None


async def test_the_limiter_takes_its_slot_and_the_token_through_it(redis: Redis, key: str) -> None:
    limiter = SharedRateLimiter(redis, RateBudget(1000.0, 10), key)
    assert limiter._fast is not None
    try:
        await redis.set(f"{key}:token", "tok")
        assert await limiter.acquire(Priority.ORDER, read=f"{key}:token") == b"tok"
        assert await limiter.acquire(Priority.QUOTE) is None
        uses = await limiter.usage()
        assert {u.name: u.requests_last_minute for u in uses}["order"] == 1
    finally:
        limiter.close()
        keys = [k async for k in redis.scan_iter(f"{key}:*")]
        if keys:
            await redis.delete(*keys)
