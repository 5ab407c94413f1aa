"""Run the Kiwoom simulator inside a test: the entry point for integration tests.

Owns two context managers over the same `SimHandle`:

    async with running_simulator() as sim:          # inside an asyncio test
        httpx.AsyncClient(base_url=sim.base_url) ...

    with simulator_in_thread() as sim:              # from sync code (Django tests, Celery)
        httpx.post(sim.base_url + "/oauth2/token", json=...)

Both bind 127.0.0.1 on a random free port, serve REST and WebSocket from one aiohttp app, and
freeze the simulated clock by default (`speed=0`) so tests move time explicitly with
`sim.advance_to(...)` / `sim.advance(minutes=...)`. Pass `speed=60` for an accelerated session.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web

from .adapter import build_exchange, default_start
from .faults import FaultController
from .server import DEMO_CREDENTIAL, Credential, ServerConfig, SimClock, SimServer

T = TypeVar("T")


@dataclass
class SimHandle:
    server: SimServer
    base_url: str
    ws_url: str
    host: str
    port: int
    credential: Credential
    loop: asyncio.AbstractEventLoop
    _threaded: bool = field(default=False, repr=False)

    # The shape the Kiwoom-client tests want.
    @property
    def app_key(self) -> str:
        return self.credential.app_key

    @property
    def secret_key(self) -> str:
        return self.credential.secret_key

    @property
    def account(self) -> str:
        return self.credential.account

    @property
    def exchange(self) -> Any:
        return self.server.exchange

    @property
    def faults(self) -> FaultController:
        return self.server.faults

    def now(self) -> datetime:
        return self.server.sim_now()

    # ---------------------------------------------------------------- moving time
    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the simulator's event loop (needed when it runs in a thread)."""
        if not self._threaded:
            return fn(*args)

        async def _run() -> T:
            async with self.server.lock:
                return fn(*args)

        fut: Future[T] = asyncio.run_coroutine_threadsafe(_run(), self.loop)
        return fut.result(timeout=60)

    def advance_to_sync(self, when: datetime) -> int:
        """Thread-safe: move the exchange to `when` and publish the events."""

        async def _run() -> int:
            async with self.server.lock:
                return await self.server.advance_to(when)

        if not self._threaded:
            raise RuntimeError("use `await sim.advance_to(...)` in async tests")
        return asyncio.run_coroutine_threadsafe(_run(), self.loop).result(timeout=120)

    async def advance_to(self, when: datetime) -> int:
        if self._threaded:
            return await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self._advance(when), self.loop)
            )
        return await self._advance(when)

    async def _advance(self, when: datetime) -> int:
        async with self.server.lock:
            return await self.server.advance_to(when)

    async def advance(self, **delta: float) -> int:
        return await self.advance_to(self.now() + timedelta(**delta))

    def advance_sync(self, **delta: float) -> int:
        return self.advance_to_sync(self.now() + timedelta(**delta))


def _make_server(
    exchange: Any | None,
    config: ServerConfig | None,
    credentials: tuple[Credential, ...] | None,
    speed: float,
    start: datetime | None,
    exchange_options: dict[str, Any],
) -> SimServer:
    config = config or ServerConfig()
    if credentials is not None:
        config.credentials = credentials
    start = start or default_start()
    if exchange is None:
        exchange = build_exchange(config.credentials, start=start, **exchange_options)
    else:
        for cred in config.credentials:
            exchange.open_account(cred.account, cred.starting_cash)
    return SimServer(exchange, config=config, clock=SimClock(start, speed=speed))


@contextlib.asynccontextmanager
async def running_simulator(
    exchange: Any | None = None,
    *,
    config: ServerConfig | None = None,
    credentials: tuple[Credential, ...] | None = None,
    speed: float = 0.0,
    start: datetime | None = None,
    host: str = "127.0.0.1",
    **exchange_options: Any,
) -> AsyncIterator[SimHandle]:
    """Serve the simulator on `host`:random-port for the duration of the block."""
    server = _make_server(exchange, config, credentials, speed, start, exchange_options)
    if start is not None or speed == 0:
        # Bring the exchange to the clock's start so the first request sees a live market.
        server.step(server.clock.now())
    runner = web.AppRunner(server.build_app(run_loop=True), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://{host}:{port}"
    handle = SimHandle(
        server=server,
        base_url=base,
        ws_url=f"ws://{host}:{port}/api/dostk/websocket",
        host=host,
        port=port,
        credential=(server.config.credentials or (DEMO_CREDENTIAL,))[0],
        loop=asyncio.get_running_loop(),
    )
    try:
        yield handle
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def simulator_in_thread(
    exchange: Any | None = None, *, timeout: float = 30.0, **kwargs: Any
) -> Iterator[SimHandle]:
    """Same as `running_simulator`, on a private event loop in a daemon thread."""
    ready: Future[SimHandle] = Future()
    stop: asyncio.Event | None = None
    loop = asyncio.new_event_loop()

    async def _main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with running_simulator(exchange, **kwargs) as handle:
                handle._threaded = True
                ready.set_result(handle)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    thread = threading.Thread(
        target=lambda: loop.run_until_complete(_main()), name="kiwoom-sim", daemon=True
    )
    thread.start()
    handle = ready.result(timeout=timeout)
    try:
        yield handle
    finally:
        loop.call_soon_threadsafe(lambda: stop.set() if stop else None)
        thread.join(timeout=timeout)
        loop.close()
