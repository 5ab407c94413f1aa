"""Running the long-lived event loops (the realtime process, the simulator): on uvloop when it is
installed and `ASYNC_UVLOOP` is on (the default), else on asyncio's own loop.

uvloop (libuv, Cython) runs the same asyncio code with less work per loop turn, per socket read and
per callback: on the order path (a transaction on the loop's psycopg connection, the rate-limit slot in
Redis, the order's POST) that is CPU the 2-core machine gives back to PostgreSQL and the broker side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")


def uvloop_enabled() -> bool:
    if not getattr(settings, "ASYNC_UVLOOP", True):
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
