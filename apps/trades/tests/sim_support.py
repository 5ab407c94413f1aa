"""The simulator over real sockets for the trades tests: REST through `KiwoomBroker`, 00 frames from a
live WebSocket feed collected on a loop thread and applied by the test thread (the test database)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.contract import OrderEvent
from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, simulator_in_thread
from apps.broker.tests.client_support import cleanup_prefix, client_config
from apps.trades.services import Applied, report_apply, report_from_event


@dataclass
class Feed:
    """Collects the account's 00 frames; `apply()` hands them to the books in arrival order."""

    broker: KiwoomBroker
    events: list[OrderEvent] = field(default_factory=list)
    unmatched: list[Any] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    feed: Any = None

    def _on_event(self, event: Any) -> None:
        if isinstance(event, OrderEvent):
            with self._lock:
                self.events.append(event)

    def start(self) -> None:
        threading.Thread(target=self.loop.run_forever, daemon=True, name="trades-feed").start()
        self.feed = self.broker.realtime(self._on_event)
        self.call(self.feed.start())
        self.call(self.feed.subscribe_account())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        if self.feed is not None:
            self.call(self.feed.close())
        self.loop.call_soon_threadsafe(self.loop.stop)

    def take(self) -> list[OrderEvent]:
        with self._lock:
            out, self.events = self.events, []
        return out

    def apply(self) -> int:
        """Apply what arrived (and retry frames that came before their ack). Returns how many."""
        batch = self.unmatched + [report_from_event(e) for e in self.take()]
        self.unmatched = []
        for report in batch:
            if report_apply(report) is Applied.UNMATCHED:
                self.unmatched.append(report)
        return len(batch)

    def settle(self, until: Callable[[], bool], wait: float = 10.0) -> bool:
        """Apply frames as they arrive until `until()` holds (waits at most `wait` seconds)."""
        deadline = time.monotonic() + wait
        while True:
            self.apply()
            if until():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


@contextmanager
def trading_sim(
    day: dt.date, at: dt.time = dt.time(9, 5), participation: str = "0.01", **config: Any
) -> Iterator[tuple[SimHandle, KiwoomBroker, Feed]]:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600, **config)
    with simulator_in_thread(
        config=cfg,
        start=default_start(day, at),
        use_krx_calendar=False,
        participation=Decimal(participation),
    ) as sim:
        broker = KiwoomBroker(client_config(sim, timeout_seconds=5.0))
        feed = Feed(broker)
        feed.start()
        try:
            yield sim, broker, feed
        finally:
            feed.stop()
            broker.close()
            asyncio.run(cleanup_prefix(broker.config.key_prefix))
