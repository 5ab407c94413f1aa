"""The whole realtime path in one test process: the simulator (thread), the Kiwoom broker pointed at it,
the realtime hub with its registered handlers (thread, its own event loop). Used by the integration tests,
the browser test and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.broker import backends
from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.clock import reset_cache
from apps.broker.kiwoom.config import KiwoomConfig
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, simulator_in_thread
from apps.conditions.realtime_handlers import ConditionsHandler
from apps.core.rediskeys import redis_key
from apps.realtime.handlers import HandlerFactory
from apps.realtime.hub import Hub
from krx import KST

DAY = dt.date(2025, 2, 4)  # a Tuesday, a normal KRX session

CONDITIONS_YAML = """
conditions:
  - seq: "0"
    name: 6분 경과 전종목
    formula: minutes_since_open >= 6
  - seq: "1"
    name: 대형주 6분 경과
    formula: minutes_since_open >= 6 and market_cap_eok >= 500000
  - seq: "2"
    name: 코스피 8분 경과
    formula: minutes_since_open >= 8 and kospi == 1
"""


def at(hhmmss: str) -> dt.datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return dt.datetime.combine(DAY, dt.time(h, m, s), tzinfo=KST)


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


@contextlib.contextmanager
def simulated_broker(
    tmp_path: Path,
    *,
    start: dt.datetime | None = None,
    conditions_yaml: str = CONDITIONS_YAML,
    rate_query_per_sec: float = 200.0,
    page_size: int = 100,
    server_rate_limit: float | None = None,
    start_timeout: float = 30.0,
    key_prefix: str = "test-conditions",
    **exchange_options: Any,
) -> Iterator[tuple[SimHandle, KiwoomBroker]]:
    """A frozen-clock simulator and the process-wide broker pointed at it (settings too, so that the
    exchange clock reads the simulator's). `server_rate_limit` turns on the simulator's own REST limit;
    `start_timeout` allows for a large universe (benchmarks)."""
    path = tmp_path / "conditions.yaml"
    path.write_text(conditions_yaml, encoding="utf-8")
    config = ServerConfig(rate_limit_per_s=server_rate_limit)
    config.condition_page_size = page_size
    with simulator_in_thread(
        start=start or at("09:00:30"),
        config=config,
        conditions_path=path,
        timeout=start_timeout,
        **exchange_options,
    ) as sim:
        broker = KiwoomBroker(
            KiwoomConfig(
                app_key=sim.app_key,
                secret_key=sim.secret_key,
                account=sim.account,
                base_url=sim.base_url,
                ws_url=sim.ws_url,
                rate_query_per_sec=rate_query_per_sec,
                timeout_seconds=10.0,
                redis_url=settings.REDIS_URL,
                key_prefix=redis_key(key_prefix, uuid.uuid4().hex),
            )
        )
        saved = {
            k: getattr(settings, k)
            for k in ("KIWOOM_BASE_URL", "KIWOOM_USE_SIMULATOR", "KIWOOM_ACCOUNT")
        }
        settings.KIWOOM_BASE_URL = sim.base_url
        settings.KIWOOM_USE_SIMULATOR = True
        settings.KIWOOM_ACCOUNT = sim.account
        old_broker = backends._broker
        backends._broker = broker
        reset_cache()
        try:
            yield sim, broker
        finally:
            backends._broker = old_broker
            for k, v in saved.items():
                setattr(settings, k, v)
            reset_cache()
            broker.close()


@dataclass
class HubThread:
    hub: Hub
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop

    @property
    def conditions(self) -> ConditionsHandler:
        handler = self.hub.handler("conditions")
        assert isinstance(handler, ConditionsHandler)
        return handler

    def stop(self, timeout: float = 20.0) -> None:
        self.loop.call_soon_threadsafe(self.hub.stop)
        self.thread.join(timeout)


HUB_OPTIONS = ("resync_seconds", "heartbeat_seconds")


@contextlib.contextmanager
def realtime_hub(
    broker: KiwoomBroker,
    *,
    handlers: dict[str, HandlerFactory] | None = None,
    wait_ready: bool = True,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    **options: Any,
) -> Iterator[HubThread]:
    """`Hub.run()` on its own loop in a thread; yields once it is connected. `resync_seconds` and
    `heartbeat_seconds` go to the hub, every other option to the handlers (`batch_seconds`,
    `tick_codes`, ...); `handlers` replaces the registry; `loop_factory` makes the hub's loop
    (e.g. `uvloop.new_event_loop`, as `run_realtime` runs)."""
    options.setdefault("resync_seconds", 0.2)
    options.setdefault("heartbeat_seconds", 1.0)
    options.setdefault("batch_seconds", 0.05)
    options.setdefault("tick_codes", [])
    hub_options = {k: options.pop(k) for k in HUB_OPTIONS}
    loop = (loop_factory or asyncio.new_event_loop)()
    box: dict[str, Hub] = {}
    made = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            hub = Hub(broker, handlers=handlers, options=options, **hub_options)
            box["hub"] = hub
            made.set()
            await hub.run()

        try:
            loop.run_until_complete(go())
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="realtime-hub", daemon=True)
    thread.start()
    # Building the hub imports the handlers (pandas, the calendar): slow on a loaded machine.
    if not made.wait(60) or "hub" not in box:
        raise RuntimeError("the realtime hub was not built within 60 s")
    handle = HubThread(box["hub"], thread, loop)
    try:
        if wait_ready:
            wait_until(lambda: handle.hub.ready.is_set(), timeout=20)
        yield handle
    finally:
        handle.stop()


def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run server-side code off a thread that owns a running event loop (Playwright's sync API does;
    `async_to_sync`, used by the live push, refuses to run there)."""
    from django.db import connection

    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if "error" in out:
        raise out["error"]
    return out.get("value")
