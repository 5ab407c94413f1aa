"""Publishing to the live dashboard: the one place that talks to the channel layer.

Domain services call :func:`publish_after_commit`; the event goes out only if their transaction commits, so the
page never shows something the database then rolled back. The domain never imports Channels itself.

Pushes never block the business action that causes them: :func:`publish_soon` (what the after-commit hook
calls, and what code on an event loop calls) hands the message to one background publisher per process — a
thread with its own event loop and a long-lived channel-layer connection — and returns at once. The
publisher sends in hand-over order (one queue, one sender: the pushes of one code or order never overtake
each other), drains whatever accumulated while it was sending as one batch, and coalesces snapshot
messages: a message with a ``key`` (an order's `order_update`, a code's `position_update`) replaces the
still-unsent one with the same key and moves to the back of the queue, so a burst costs one push per key.
The queue is bounded (`MAX_PENDING`; the oldest message is dropped and counted when it overflows). On a
normal exit (`atexit`, a Celery worker process's shutdown) :func:`live_flush` sends what is left.

:func:`publish_now` / :func:`apublish_now` still send one message and wait for it (scripts, tests).
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

LIVE_GROUP = "live"
MAX_PENDING = 10_000
FLUSH_SECONDS = 5.0


def _jsonable(data: Any) -> Any:
    # Decimals, datetimes and dates become strings the browser can read; ints stay ints (KRW).
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _message(event_type: str, data: Any) -> dict[str, Any]:
    return {"type": "live.event", "event": {"type": event_type, "data": _jsonable(data)}}


def publish_now(event_type: str, data: Any, group: str = LIVE_GROUP) -> None:
    """Send ``{type, data}`` to every socket in ``group`` and wait for it (blocking: a new event loop
    per call). Failures are logged, never raised: a dashboard push must not break the business action."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, _message(event_type, data))
    except Exception:
        logger.exception("live push failed for %s", event_type)


async def apublish_now(event_type: str, data: Any, group: str = LIVE_GROUP) -> None:
    """`publish_now` for code running on an event loop: awaits the channel layer. Failures are logged."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, _message(event_type, data))
    except Exception:
        logger.exception("live push failed for %s", event_type)


def publish_soon(
    event_type: str, data: Any, group: str = LIVE_GROUP, *, key: Hashable | None = None
) -> None:
    """Hand ``{type, data}`` to the background publisher and return at once (any thread, any loop).
    With a ``key``, a newer message replaces an unsent older one with the same key (snapshots only:
    never for events such as `order_filled`, each of which must arrive)."""
    publisher().submit(
        group, _message(event_type, data), None if key is None else (event_type, key)
    )


async def apublish_soon(event_type: str, data: Any, group: str = LIVE_GROUP) -> None:
    """`publish_soon` with the `Publish` signature of async producers (the realtime hub's price pump)."""
    publish_soon(event_type, data, group, key=data.get("code") if isinstance(data, dict) else None)


def publish_after_commit(
    event_type: str, data: Any, group: str = LIVE_GROUP, *, key: Hashable | None = None
) -> None:
    """Queue a live push for when the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: publish_soon(event_type, data, group, key=key))


def live_flush(timeout: float = FLUSH_SECONDS) -> bool:
    """Wait until every handed-over message is sent (or `timeout`). True when nothing is left."""
    current = _publisher
    return True if current is None else current.flush(timeout)


@dataclass
class PublisherStats:
    submitted: int = 0
    sent: int = 0
    batches: int = 0
    coalesced: int = 0
    dropped: int = 0
    failed: int = 0


class LivePublisher:
    """One sender thread with its own event loop; `submit` is thread-safe and never blocks on I/O."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self.stats = PublisherStats()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: OrderedDict[Hashable, tuple[str, dict[str, Any]]] = OrderedDict()
        self._seq = itertools.count()
        self._inflight = 0
        self._signalled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ producers
    def submit(self, group: str, message: dict[str, Any], key: Hashable | None = None) -> None:
        with self._lock:
            self.stats.submitted += 1
            slot = (group, key) if key is not None else next(self._seq)
            if key is not None and self._pending.pop(slot, None) is not None:
                self.stats.coalesced += 1
            self._pending[slot] = (group, message)
            if len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
                self.stats.dropped += 1
                if self.stats.dropped in (1, 10, 100) or self.stats.dropped % 1000 == 0:
                    logger.warning("live publisher: queue full, %d dropped", self.stats.dropped)
            wake = not self._signalled
            self._signalled = True
        self._start()
        if wake:
            assert self._loop is not None and self._wake is not None
            self._loop.call_soon_threadsafe(self._wake.set)

    def close(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Flush, then stop the sender thread (tests; a process simply exits)."""
        flushed = self.flush(timeout)
        if self._thread is not None and self._loop is not None and self._wake is not None:
            self._closed = True
            self._loop.call_soon_threadsafe(self._wake.set)
            self._thread.join(timeout)
        return flushed

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        with self._idle:
            if self._thread is None:
                return not self._pending
            return self._idle.wait_for(lambda: not self._pending and not self._inflight, timeout)

    # ------------------------------------------------------------------ the sender
    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._main, name="live-publisher", daemon=True
                )
                self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop, self._wake = loop, asyncio.Event()
        self._ready.set()
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch = list(self._pending.values())
                self._pending.clear()
                self._inflight = len(batch)
                self._signalled = False
            if batch:
                self.stats.batches += 1
                await self._send(batch)
            with self._idle:
                self._inflight = 0
                self._idle.notify_all()

    async def _send(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        for group, message in batch:
            try:
                await layer.group_send(group, message)
                self.stats.sent += 1
            except Exception:
                self.stats.failed += 1
                logger.exception("live push failed for %s", message["event"]["type"])


_publisher: LivePublisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> LivePublisher:
    """This process's publisher (a forked child gets a new one: threads do not survive a fork)."""
    global _publisher
    current = _publisher
    if current is None:
        with _publisher_lock:
            if _publisher is None:
                _publisher = LivePublisher()
            current = _publisher
    return current


def _forget_after_fork() -> None:
    global _publisher, _publisher_lock
    _publisher, _publisher_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(live_flush)
