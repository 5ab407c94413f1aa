"""Keeping Python's garbage collector off the order path.

Measured in `bench/order_latency.py` (the realtime process's order path): a full collection of this
process's heap took 90–140 ms and a generation-1 collection 0.5–2.7 ms, each landing inside whatever
order was being made. Two measures, both used by `run_realtime`:

- `freeze()` after start-up: everything allocated by then (Django, the apps, the handlers' caches) moves
  to the permanent generation, which no collection scans again; a full collection then walks only what
  was allocated since.
- `paused()` around an order's critical stretch (intent → the request on the wire): collections wait
  until no order is in flight. Allocation is not stopped, only the collector's pass; it runs at the next
  threshold after the last order leaves.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze", "paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_since = 0.0  # when the current pause began
# Orders that overlap without a gap would keep the collector off for good: past this, the young
# generations are collected once at the next order's entry (and the clock starts again).
MAX_PAUSE_SECONDS = 2.0


def freeze(collect: bool = True) -> None:
    """Move every object to the permanent generation (after a collection unless `collect` is false:
    a full collection of a warm process's heap is the 100 ms pause this avoids; without it, the few
    cycles that were garbage at that moment are kept for the process's life)."""
    if collect:
        gc.collect()
    gc.freeze()


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
