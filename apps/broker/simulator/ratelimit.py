"""Per-api-id request throttling for the simulator's REST surface (PROTOCOL.md §5.1).

Kiwoom enforces its limits independently per TR; whether the budget is per app key or per IP is not
confirmed, so the simulator keys buckets by (app key, api-id), which is the stricter reading for a
single-key client and keeps separate test accounts independent. Limits run on the wall clock (the
real server throttles real requests, whatever the simulated market time is).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# The published policy is 5 requests/s for queries and orders on the real host (1/s on mock).
DEFAULT_RATE_PER_S = 5.0
DEFAULT_BURST = 5


def throttle_message(api_id: str) -> str:
    return (
        "허용된 요청 개수를 초과하였습니다"
        f"[1700:허용된 요청 개수를 초과하였습니다. API ID={api_id}]"
    )


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token bucket per (key, api-id). `rate_per_s=None` disables throttling."""

    rate_per_s: float | None = DEFAULT_RATE_PER_S
    burst: int = DEFAULT_BURST
    clock: Callable[[], float] = time.monotonic
    overrides: dict[str, float] = field(default_factory=dict)
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def allow(self, key: str, api_id: str) -> bool:
        rate = self.overrides.get(api_id, self.rate_per_s)
        if rate is None:
            return True
        now = self.clock()
        bucket = self._buckets.get((key, api_id))
        if bucket is None:
            bucket = self._buckets[(key, api_id)] = _Bucket(tokens=float(self.burst), stamp=now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def configure(self, rate_per_s: float | None, burst: int | None = None) -> None:
        self.rate_per_s = rate_per_s
        if burst is not None:
            self.burst = burst
        self._buckets.clear()
