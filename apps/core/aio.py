"""Running the long-lived event loops (the realtime process, the simulator): on asyncio's own loop,
or on uvloop when `ASYNC_UVLOOP` is on (opt-in) and it is installed.

Why opt-in: measured on the 2-CPU machine (load ≈1), uvloop took the 0B frame to the handler with a
lower p99 (0.7 vs 2.2 ms) but made the order's transaction on the loop's psycopg connection slower
(intent → wire p50 6.3 vs 5.5 ms, p99 11.8 vs 7.8 ms: psycopg registers and removes a reader for each
wait, which costs more on libuv), and tick → stop-exit on the wire was the same on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")


def uvloop_enabled() -> bool:
    if not getattr(settings, "ASYNC_UVLOOP", False):
        return False
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`, on uvloop where enabled."""
    if uvloop_enabled():
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)
