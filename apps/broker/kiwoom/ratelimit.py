"""One Kiwoom request budget for every process, kept in Redis, handed out by priority.

Kiwoom throttles per api-id (PROTOCOL §5.1: 5 req/s for queries, 5 for orders, 1/s on the mock
host; one client measured stricter). Everything we send — orders, order status and
reconciliation, the scanner and condition checks, balance syncs and quotes, charts and backfills —
draws from one budget, which is stricter than per-TR and therefore safe. The budget is a GCRA
("virtual scheduling") cell evaluated atomically by a Lua script on Redis' own clock, so N workers
on N machines share it without clock skew; a throttle reply from the server pushes the shared
schedule back for everybody.

Slots go by priority: every waiter registers in one Redis sorted set scored by (priority, arrival),
and only the head of that queue may take a free slot. An order that arrives while a backfill holds
the budget saturated therefore waits for the next slot and no longer; within a class, first come
first served. A waiter refreshes its registration each time it asks; one that dies (a killed
process) expires after `WAITER_TTL` so it cannot block the queue. A cancelled waiter (its call
ran out of time) leaves the queue at once and never sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from apps.broker.backoff import backoff_delay

from .resp import RespClient, script_sha

__all__ = [
    "Priority",
    "RateBudget",
    "SharedRateLimiter",
    "backoff_delay",
    "default_priority",
    "limiter_prefix",
]


class Priority(enum.IntEnum):
    """Who gets the next slot: the lowest value first."""

    ORDER = 0  # place / amend / cancel
    ORDER_STATUS = 1  # open orders, fills, reconciliation
    RECONCILE = 1
    SCAN = 2  # opening scanner rankings, condition checks
    CONDITION = 2
    QUOTE = 3  # quotes, order books, balance/holdings syncs, account lookups
    BALANCE = 3
    CHART = 4  # minute/daily bars, backfills, the instrument master
    BACKFILL = 4


ORDER_API_IDS = frozenset({"kt10000", "kt10001", "kt10002", "kt10003"})
_DEFAULT_PRIORITY = {
    **dict.fromkeys(ORDER_API_IDS, Priority.ORDER),
    "ka10075": Priority.ORDER_STATUS,
    "ka10076": Priority.ORDER_STATUS,
    "ka10032": Priority.SCAN,
    "ka10023": Priority.SCAN,
    "ka10027": Priority.SCAN,
    "ka10030": Priority.SCAN,
    "ka10080": Priority.CHART,
    "ka10081": Priority.CHART,
    "ka10099": Priority.CHART,
}


def default_priority(api_id: str) -> Priority:
    """The class of a TR when its caller did not pick one."""
    return _DEFAULT_PRIORITY.get(api_id, Priority.QUOTE)


# Priorities sort before arrival times: score = priority * _RANK + arrival in ms since the epoch
# (below 10^13 until the year 2286, and exact in a double).
_RANK = 10**13
WAITER_TTL_US = 2_000_000
USAGE_BUCKET_S = 10
USAGE_WINDOW_S = 60
QUEUE_SUFFIX = "queue"

# KEYS: 1 next free slot (µs, Redis clock), 2 waiter queue (zset), 3 waiter expiry (zset),
# 4 usage-key prefix, 5 (optional) a key read with the slot. ARGV: interval µs, catch-up credit µs, waiter id, priority, ttl µs, bucket s.
# GCRA: a request may go once `now >= slot`; the slot then advances by one interval from
# max(slot, now - credit), so a waiter that wakes late keeps its place in the schedule (up to
# `credit`) and no more than 1 + credit/interval requests ever go back to back. Only the head of
# the queue may take the slot. Returns 0 when the request may go, else the µs to wait; with a fifth key,
# {0, that key's value} when the request may go (an order's slot and the token in one round trip).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local credit = tonumber(ARGV[2])
local id = ARGV[3]
local prio = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #dead do
  redis.call('ZREM', KEYS[2], dead[i])
  redis.call('ZREM', KEYS[3], dead[i])
end
if not redis.call('ZSCORE', KEYS[2], id) then
  redis.call('ZADD', KEYS[2], prio * 10000000000000 + math.floor(now / 1000), id)
end
local rank = redis.call('ZRANK', KEYS[2], id)
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now - credit then slot = now - credit end
if rank == 0 and now >= slot then
  local nxt = slot + interval
  redis.call('SET', KEYS[1], tostring(nxt), 'PX', math.ceil(math.max(nxt - now, 0) / 1000 + credit / 1000) + 1000)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  local bucket = KEYS[4] .. ':' .. tostring(math.floor(tonumber(t[1]) / tonumber(ARGV[6])))
  redis.call('HINCRBY', bucket, ARGV[4], 1)
  redis.call('EXPIRE', bucket, 180)
  if KEYS[5] then return {0, redis.call('GET', KEYS[5])} end
  return 0
end
local wait = math.max(slot - now, 0) + rank * interval
if wait < 1000 then wait = 1000 end
redis.call('ZADD', KEYS[3], now + wait + ttl, id)
redis.call('PEXPIRE', KEYS[2], math.ceil((wait + ttl) / 1000) + 1000)
redis.call('PEXPIRE', KEYS[3], math.ceil((wait + ttl) / 1000) + 1000)
return wait
"""

# KEYS[1] slot. ARGV: penalty µs, credit µs. Pushes the shared schedule back by `penalty`.
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local penalty = tonumber(ARGV[1])
local credit = tonumber(ARGV[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
local pushed = now + penalty
if pushed > slot then slot = pushed end
redis.call('SET', KEYS[1], tostring(slot), 'PX', math.ceil((slot - now) / 1000 + credit / 1000) + 1000)
return 0
"""

# KEYS[1] waiter queue, KEYS[2] waiter expiry. ARGV[1] waiter id.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"""


@dataclass(frozen=True)
class ClassUse:
    """One priority class in the health report."""

    name: str
    requests_last_minute: int
    waiting: int


def limiter_prefix(key_prefix: str, base_url: str) -> str:
    """The limiter's Redis key prefix: one budget per host (real, mock or a simulator)."""
    scope = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    return f"{key_prefix}:rl:{scope}"


def usage_bucket_keys(prefix: str, now_s: int) -> list[str]:
    """The usage buckets covering the last minute."""
    first = (now_s - USAGE_WINDOW_S) // USAGE_BUCKET_S + 1
    return [f"{prefix}:use:{b}" for b in range(first, now_s // USAGE_BUCKET_S + 1)]


def summarize_usage(
    buckets: Iterable[Mapping[bytes | str, bytes | str]],
    queue: Iterable[tuple[bytes | str, float]],
) -> list[ClassUse]:
    used = dict.fromkeys(Priority, 0)
    for counts in buckets:
        for prio, count in counts.items():
            with contextlib.suppress(ValueError):
                used[Priority(int(prio))] += int(count)
    waiting = dict.fromkeys(Priority, 0)
    for _, score in queue:
        with contextlib.suppress(ValueError):
            waiting[Priority(int(score) // _RANK)] += 1
    return [ClassUse(p.name.lower(), used[p], waiting[p]) for p in Priority]


@dataclass(frozen=True)
class RateBudget:
    per_second: float
    burst: int = 1  # requests allowed back-to-back; 1 = strictly evenly spaced


class SharedRateLimiter:
    """`await limiter.acquire(Priority.QUOTE)` before each request; shared through Redis."""

    def __init__(
        self,
        redis: Redis,
        budget: RateBudget,
        prefix: str = "stockagent:kiwoom:rl:default",
    ) -> None:
        self._redis = redis
        self.budget = budget
        self._prefix = prefix
        self._keys = [
            f"{self._prefix}:slot",
            f"{self._prefix}:{QUEUE_SUFFIX}",
            f"{self._prefix}:expiry",
            f"{self._prefix}:use",
        ]
        self._acquire = redis.register_script(_ACQUIRE)
        # The slot's script through `resp.RespClient` when the server is plain TCP (≈0.35 ms less of the
        # event loop's CPU per call than redis-py's; on the realtime loop it lands inside orders), else
        # through redis-py. The other scripts and reads stay on redis-py.
        self._fast = RespClient.of(redis)
        self._acquire_sha = script_sha(_ACQUIRE)
        self._penalize = redis.register_script(_PENALIZE)
        self._leave = redis.register_script(_LEAVE)
        self.waits = 0  # times a caller had to wait (diagnostics for the benchmark)

    @property
    def interval(self) -> float:
        """Seconds between two slots."""
        return 1 / self.budget.per_second

    def _params(self) -> tuple[int, int]:
        interval = int(1_000_000 / self.budget.per_second)
        return interval, interval * max(self.budget.burst - 1, 0)

    async def try_acquire(self, priority: Priority, waiter: str) -> float:
        """0.0 if `waiter` took a slot, else the seconds to wait before asking again (the waiter
        stays queued until it takes a slot or calls `leave`)."""
        return (await self._try(priority, waiter, None))[0]

    async def _try(self, priority: Priority, waiter: str, read: str | None) -> tuple[float, Any]:
        interval, credit = self._params()
        keys = self._keys if read is None else [*self._keys, read]
        args = [interval, credit, waiter, int(priority), WAITER_TTL_US, USAGE_BUCKET_S]
        if self._fast is not None:
            reply = await self._fast.evalsha(self._acquire_sha, _ACQUIRE, keys, args)
        else:
            reply = await self._acquire(keys=keys, args=args)
        if isinstance(reply, list):  # the slot, and the value read with it
            return 0.0, reply[1]
        return int(reply) / 1_000_000, None

    def close(self) -> None:
        """Close the slot's own connection (`resp.RespClient`; redis-py's client is the caller's)."""
        if self._fast is not None:
            self._fast.close()

    async def leave(self, waiter: str) -> None:
        await self._leave(keys=self._keys[1:3], args=[waiter])

    async def acquire(self, priority: Priority = Priority.QUOTE, read: str | None = None) -> Any:
        """Wait for a slot. `read`: a Redis key read in the same script as the slot is taken (the
        order path's token: one round trip, not two); its value (None when missing) is returned."""
        waiter = uuid.uuid4().hex
        try:
            while True:
                wait, value = await self._try(priority, waiter, read)
                if wait <= 0:
                    return value
                self.waits += 1
                # A little jitter keeps waiting processes from asking Redis in lockstep.
                await asyncio.sleep(wait + random.uniform(0, 0.001))
        except BaseException:
            # Cancelled (the call ran out of time) or Redis failed: leave the queue now rather
            # than block it until the registration expires. Best effort, briefly.
            with contextlib.suppress(RedisError, TimeoutError, asyncio.CancelledError, OSError):
                await asyncio.wait_for(asyncio.shield(self.leave(waiter)), 0.5)
            raise

    async def penalize(self, seconds: float) -> None:
        """The server throttled us anyway: hold every process back for `seconds`."""
        _, credit = self._params()
        await self._penalize(keys=self._keys[:1], args=[max(1, int(seconds * 1_000_000)), credit])

    async def usage(self) -> list[ClassUse]:
        """Requests per class in the last minute and the callers waiting now (for health)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in usage_bucket_keys(self._prefix, int(time.time())):
                pipe.hgetall(key)
            pipe.zrange(self._keys[1], 0, -1, withscores=True)
            results = await pipe.execute()
        return summarize_usage(results[:-1], results[-1])
