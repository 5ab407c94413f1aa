"""Keeping Python's garbage collector off the order path.

Measured in `bench/order_latency.py` (the realtime process's order path): a full collection of this
process's heap took 90–140 ms and a generation-1 collection 0.5–2.7 ms, each landing inside whatever
order was being made. Two measures, both used by `run_realtime` (`kiwoom_sim` freezes too: a full collection of the
simulator's exchange took 70–100 ms, stalling every order and frame in flight):

- `freeze()` after start-up: everything allocated by then (Django, the apps, the handlers' caches) moves
  to the permanent generation, which no collection scans again; a full collection then walks only what
  was allocated since.
- `paused()` around an order's critical stretch (intent → the request on the wire): collections wait
  until no order is in flight. Allocation is not stopped, only the collector's pass; it runs at the next
  threshold after the last order leaves.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FREEZE_AFTER_START_SECONDS", "freeze", "freeze_after_start", "paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_since = 0.0  # when the current pause began
# Orders that overlap without a gap would keep the collector off for good: past this, the young
# generations are collected once at the next order's entry (and the clock starts again).
MAX_PAUSE_SECONDS = 2.0
# A long-running process's second freeze: what it built while warming up (caches, subscriptions).
FREEZE_AFTER_START_SECONDS = 60.0


def freeze(collect: bool = True) -> None:
    """Move every object to the permanent generation (after a collection unless `collect` is false:
    a full collection of a warm process's heap is the 100 ms pause this avoids; without it, the few
    cycles that were garbage at that moment are kept for the process's life)."""
    if collect:
        gc.collect()
    gc.freeze()


def freeze_after_start(loop: asyncio.AbstractEventLoop) -> None:
    """A long-running process once it has started: its heap frozen now, and what it builds in its
    first `FREEZE_AFTER_START_SECONDS` frozen then (without a collection: see `freeze`)."""
    freeze()
    loop.call_later(FREEZE_AFTER_START_SECONDS, freeze, False)


@contextmanager
def paused() -> Iterator[None]:
    """No collection while any caller is inside (nesting and concurrent orders count)."""
    global _depth, _was_enabled, _since
    overdue = False
    with _lock:
        now = time.monotonic()
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
            _since = now
        elif _was_enabled and now - _since > MAX_PAUSE_SECONDS:
            overdue, _since = True, now
        _depth += 1
    if overdue:
        gc.collect(1)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
