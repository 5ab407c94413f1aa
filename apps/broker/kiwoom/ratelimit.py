"""One request-rate limiter for every process, kept in Redis.

Kiwoom throttles per api-id (PROTOCOL §5.1: 5 req/s for queries, 5 req/s for orders, 1 req/s on
the mock host; one client measured stricter). We keep one bucket per api-id *class* (queries,
orders), which is stricter than per-TR and therefore safe. The bucket is a GCRA ("virtual
scheduling") cell evaluated atomically by a Lua script on Redis' own clock, so N workers on N
machines share one budget without clock skew. A throttle reply from the server pushes the shared
schedule back for everybody.
"""

from __future__ import annotations

import asyncio
import enum
import random
from dataclasses import dataclass

from redis.asyncio import Redis


class ApiClass(enum.Enum):
    QUERY = "query"
    ORDER = "order"


ORDER_API_IDS = frozenset({"kt10000", "kt10001", "kt10002", "kt10003"})


def api_class(api_id: str) -> ApiClass:
    return ApiClass.ORDER if api_id in ORDER_API_IDS else ApiClass.QUERY


# KEYS[1] = the next free slot (µs, Redis clock). ARGV: interval µs, catch-up credit µs, penalty µs.
# A token bucket in GCRA form: a request may go once `now >= slot`; the slot then advances by one
# interval from max(slot, now - credit), so a waiter that wakes late keeps its place in the
# schedule (up to `credit`) instead of losing the slot, and no more than 1 + credit/interval
# requests ever go back to back. Returns 0 when the request may go, else the µs to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local credit = tonumber(ARGV[2])
local penalty = tonumber(ARGV[3])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if penalty > 0 then
  local pushed = now + penalty
  if pushed > slot then slot = pushed end
  redis.call('SET', KEYS[1], tostring(slot), 'PX', math.ceil((slot - now) / 1000 + credit / 1000) + 1000)
  return 0
end
if slot < now - credit then slot = now - credit end
if now < slot then
  return slot - now
end
local nxt = slot + interval
redis.call('SET', KEYS[1], tostring(nxt), 'PX', math.ceil(math.max(nxt - now, 0) / 1000 + credit / 1000) + 1000)
return 0
"""


@dataclass(frozen=True)
class RateBudget:
    per_second: float
    burst: int = 1  # requests allowed back-to-back; 1 = strictly evenly spaced


class SharedRateLimiter:
    """`await limiter.acquire(ApiClass.QUERY)` before each request; shared through Redis."""

    def __init__(
        self,
        redis: Redis,
        budgets: dict[ApiClass, RateBudget],
        key_prefix: str = "stockagent:kiwoom",
        scope: str = "default",
    ) -> None:
        self._redis = redis
        self._budgets = budgets
        self._prefix = f"{key_prefix}:rl:{scope}"
        self._script = redis.register_script(_GCRA)
        self.waits = 0  # times a caller had to wait (diagnostics for the benchmark)

    def _key(self, cls: ApiClass) -> str:
        return f"{self._prefix}:{cls.value}"

    def _params(self, cls: ApiClass) -> tuple[int, int]:
        b = self._budgets[cls]
        interval = int(1_000_000 / b.per_second)
        return interval, interval * max(b.burst - 1, 0)

    async def try_acquire(self, cls: ApiClass) -> float:
        """0.0 if a slot was taken, else the seconds to wait before asking again."""
        interval, tolerance = self._params(cls)
        wait_us = await self._script(keys=[self._key(cls)], args=[interval, tolerance, 0])
        return int(wait_us) / 1_000_000

    async def acquire(self, cls: ApiClass) -> None:
        while True:
            wait = await self.try_acquire(cls)
            if wait <= 0:
                return
            self.waits += 1
            # A little jitter keeps waiting processes from asking Redis in lockstep.
            await asyncio.sleep(wait + random.uniform(0, 0.002))

    async def penalize(self, cls: ApiClass, seconds: float) -> None:
        """The server throttled us anyway: hold every process back for `seconds`."""
        interval, tolerance = self._params(cls)
        await self._script(
            keys=[self._key(cls)], args=[interval, tolerance, max(1, int(seconds * 1_000_000))]
        )


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter (attempt starts at 1)."""
    return random.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))
