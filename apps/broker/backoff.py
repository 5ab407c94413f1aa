"""The one backoff policy of the broker package: REST retries after a throttle reply, the
WebSocket's reconnects and the condition relay's Redis retries all wait with it."""

from __future__ import annotations

import random

__all__ = ["backoff_delay", "reconnect_delay"]


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with jitter: a random delay in [base/2, min(cap, base·2^(attempt-1))].

    `attempt` starts at 1. The jitter keeps many processes that failed together from coming back
    in lockstep; the floor keeps a first retry from being instant.
    """
    high = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(min(base / 2, high), max(high, 0.001))


def reconnect_delay(attempt: int, base: float = 0.5, cap: float = 30.0, quick: int = 8) -> float:
    """A reconnect's wait: the first `quick` attempts wait a jittered [base, 2·base] (0.5–1 s by
    default), then exponential backoff from 2·base up to `cap` (`backoff_delay`).

    A server that was restarted (a crashed simulator, a supervisor's restart) is back within seconds,
    and a refused connect costs it nothing: the quick attempts catch it within a second of its return,
    at most ~1 connect a second from each client, for ~6 s; a server that stays away is then asked
    less and less often (1, 2, 4 … s, at most `cap`).
    """
    if attempt <= quick:
        return random.uniform(base, 2 * base)
    return backoff_delay(attempt - quick, 2 * base, cap)
