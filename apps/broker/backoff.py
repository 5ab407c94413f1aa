"""The one backoff policy of the broker package: REST retries after a throttle reply, the
WebSocket's reconnects and the condition relay's Redis retries all wait with it."""

from __future__ import annotations

import random

__all__ = ["backoff_delay"]


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with jitter: a random delay in [base/2, min(cap, base·2^(attempt-1))].

    `attempt` starts at 1. The jitter keeps many processes that failed together from coming back
    in lockstep; the floor keeps a first retry from being instant.
    """
    high = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(min(base / 2, high), max(high, 0.001))
