"""An order's critical stretch ahead of the realtime feed, on the realtime process's event loop.

The realtime process reads the broker's WebSocket on the same event loop that makes its orders. While a
stretch is open — an order from its intent until its request has been handed to the broker's socket —
the feed's sockets stop being read (`transport.pause_reading()`): the frames wait in the kernel's buffer
instead of being parsed and dispatched between the order's steps (2,000 frames a second arrive in bursts;
each burst parsed inside an order's stretch was the tail of its latency). Reading resumes when the last
stretch closes, and in any case after `MAX_HOLD_SECONDS` (a slow database or broker never holds the
feed longer; the frames are then read in order, none lost).

`hold()` opens a stretch and returns its (idempotent) release; `stretch()` is the same as a context.
Stretches nest and overlap (concurrent orders count). `register(transport)` is called by the feed for
each socket it reads (`apps.broker.kiwoom.ws`), `unregister` when it closes. Framework-free (asyncio
only): the Kiwoom client imports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["MAX_HOLD_SECONDS", "active", "hold", "register", "stretch", "unregister"]

MAX_HOLD_SECONDS = 0.02

_depth = 0
_transports: set[Any] = set()
_paused: set[Any] = set()
_release: asyncio.TimerHandle | None = None


def register(transport: Any) -> None:
    """A feed socket to pause during stretches (its reader calls this once connected)."""
    if transport is not None:
        _transports.add(transport)


def unregister(transport: Any) -> None:
    _transports.discard(transport)
    _paused.discard(transport)


def active() -> bool:
    return _depth > 0


def hold() -> Callable[[], None]:
    """Open a stretch; the returned function closes it (once: later calls do nothing)."""
    global _depth
    _depth += 1
    if _depth == 1:
        _pause()
    open_ = [True]

    def release() -> None:
        global _depth
        if open_[0]:
            open_[0] = False
            _depth -= 1
            if _depth == 0:
                _resume()

    return release


@contextmanager
def stretch() -> Iterator[None]:
    """The feed is not read while any caller is inside (bounded by `MAX_HOLD_SECONDS`)."""
    release = hold()
    try:
        yield
    finally:
        release()


def _pause() -> None:
    global _release
    for transport in list(_transports):
        if transport.is_closing():
            unregister(transport)
            continue
        try:
            transport.pause_reading()
        except (RuntimeError, AttributeError):  # not pausable, or already paused
            continue
        _paused.add(transport)
    if _paused:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        _release = loop.call_later(MAX_HOLD_SECONDS, _overdue)


def _overdue() -> None:
    log.debug("order stretch longer than %.0f ms: the feed is read again", MAX_HOLD_SECONDS * 1e3)
    _resume()


def _resume() -> None:
    global _release
    if _release is not None:
        _release.cancel()
        _release = None
    paused, _paused_now = list(_paused), _paused
    _paused_now.clear()
    for transport in paused:
        if transport.is_closing():
            unregister(transport)
            continue
        try:
            transport.resume_reading()
        except (RuntimeError, AttributeError):
            continue
