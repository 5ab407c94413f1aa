"""The simulator as a process of its own, for the latency benches (as in production: its work does not
share our GIL). Run as `python bench/NAME.py`, so this directory is on sys.path.

The child (`serve(api_id)`, started by `sim_process(script)` as `script --serve-sim`) prints its
credentials as one JSON line, then obeys commands on stdin:

- `Q code code …`        → `Q 1` once a client subscribed 0B of every code, else `Q 0`;
- `P code {json values}` → publishes that 0B frame, stamping t0 on the simulator's loop just before;
  the next `api_id` request to arrive prints `R <t0> <wire>` (CLOCK_MONOTONIC: one clock for every
  process);
- `N rate code code …`   → streams 0B frames of those codes, round robin, at `rate` frames/s (noise);
- `N 0`                  → stops the noise and prints `N <frames sent>`.

The child ends when its stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

__all__ = ["SimProcess", "process_broker", "production_hub", "serve", "sim_process"]


def production_hub() -> dict[str, None]:
    """For `realtime_hub(...)`: the hub's housekeeping intervals left to the `Hub` itself, which then
    reads the process's settings (`REALTIME_RESYNC_SECONDS`, `REALTIME_HEARTBEAT_SECONDS`). The test
    helper's own defaults (a cycle every 0.2 s, a heartbeat every second, for quick tests) run each
    handler's `on_cycle` — database and Redis work in threads beside the loop — 15 times as often as the
    process does, and a latency bench measures the process."""
    return {"resync_seconds": None, "heartbeat_seconds": None}


def serve(api_id: str, start_at: str = "09:05:00") -> None:
    import asyncio

    import django

    django.setup()
    from apps.broker.simulator.server import ServerConfig, SimServer
    from apps.broker.simulator.testing import running_simulator
    from apps.conditions.tests.live_support import at
    from apps.core import aio

    pending: list[float] = []
    original = SimServer.handle_tr

    async def handle_tr(self, request):  # type: ignore[no-untyped-def]
        if request.headers.get("api-id") == api_id:
            wire = time.perf_counter()
            if pending:
                print(f"R {pending.pop()!r} {wire!r}", flush=True)
        return await original(self, request)

    SimServer.handle_tr = handle_tr  # type: ignore[method-assign]

    async def run() -> None:
        async with running_simulator(
            config=ServerConfig(rate_limit_per_s=None, ping_interval_s=3600),
            start=at(start_at),
            use_krx_calendar=False,
        ) as sim:
            from apps.core import gcpause

            gcpause.freeze_after_start(asyncio.get_running_loop())  # as `kiwoom_sim` does
            codes = [i.code for i in sim.exchange.instruments()]
            keys = ("app_key", "secret_key", "account", "base_url", "ws_url")
            print(json.dumps({**{k: getattr(sim, k) for k in keys}, "codes": codes}), flush=True)
            loop = asyncio.get_running_loop()
            hub = sim.server.hub
            noise: dict[str, Any] = {"codes": [], "rate": 0.0, "sent": 0}

            def publish(code: str, values: dict[str, str]) -> None:
                pending[:] = [time.perf_counter()]
                hub.publish("0B", code, values)

            def stream() -> None:
                # Every 10 ms, the frames due by then (a timer per frame cannot keep 2,000/s).
                if not noise["rate"]:
                    return
                due = int((time.perf_counter() - noise["since"]) * noise["rate"])
                while noise["sent"] < due:
                    n = noise["sent"]
                    code = noise["codes"][n % len(noise["codes"])]
                    values = {"20": "090600", "10": f"+{10_000 + n % 50 * 10}", "15": "+3"}
                    hub.publish("0B", code, values)
                    noise["sent"] = n + 1
                loop.call_later(0.01, stream)

            def noise_set(rate: float, codes: list[str]) -> None:
                if rate:
                    noise.update(rate=rate, codes=codes, since=time.perf_counter(), sent=0)
                    stream()
                else:
                    noise["rate"] = 0.0
                    print(f"N {noise['sent']}", flush=True)

            def commands() -> None:
                for line in sys.stdin:
                    word, _, rest = line.strip().partition(" ")
                    if word == "Q":
                        wanted = rest.split()
                        loop.call_soon_threadsafe(
                            lambda w=wanted: print(
                                f"Q {int(all(hub.wants('0B', c) for c in w))}", flush=True
                            )
                        )
                    elif word == "P":
                        code, _, values = rest.partition(" ")
                        loop.call_soon_threadsafe(publish, code, json.loads(values))
                    elif word == "N":
                        rate, *codes = rest.split()
                        loop.call_soon_threadsafe(noise_set, float(rate), codes)

            await asyncio.to_thread(commands)

    aio.run(run())  # as `kiwoom_sim` runs (asyncio unless ASYNC_UVLOOP)


class SimProcess:
    """The parent's handle: credentials (`handle`), commands, and the child's lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stdin is not None
        self.proc = proc
        self.handle = SimpleNamespace(**json.loads(proc.stdout.readline()))
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line.strip())

    def command(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def reply(self, prefix: str, timeout: float = 10.0) -> str | None:
        """The next line starting with `prefix` (others dropped), or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line.startswith(prefix + " "):
                return line

    def subscribed(self, *codes: str) -> bool:
        self.command("Q " + " ".join(codes))
        return self.reply("Q") == "Q 1"

    def publish(self, code: str, values: dict[str, str]) -> None:
        self.command(f"P {code} {json.dumps(values)}")

    def result(self, timeout: float = 10.0) -> tuple[float, float] | None:
        """(t0, wire) of the last published frame's order, once it reached the wire."""
        line = self.reply("R", timeout)
        if line is None:
            return None
        _, t0, wire = line.split()
        return float(t0), float(wire)


@contextlib.contextmanager
def sim_process(script: str) -> Iterator[SimProcess]:
    proc = subprocess.Popen(
        [sys.executable, script, "--serve-sim"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield SimProcess(proc)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(10)


@contextlib.contextmanager
def process_broker(handle: Any, prefix: str) -> Iterator[Any]:
    """The process-wide broker pointed at the simulator process (as `simulated_broker` does for a
    simulator in a thread)."""
    import uuid

    from django.conf import settings

    from apps.broker import backends
    from apps.broker.backends.kiwoom import KiwoomBroker
    from apps.broker.clock import reset_cache
    from apps.broker.kiwoom.config import KiwoomConfig
    from apps.core.rediskeys import redis_key

    broker = KiwoomBroker(
        KiwoomConfig(
            app_key=handle.app_key,
            secret_key=handle.secret_key,
            account=handle.account,
            base_url=handle.base_url,
            ws_url=handle.ws_url,
            rate_query_per_sec=200.0,
            timeout_seconds=10.0,
            redis_url=settings.REDIS_URL,
            key_prefix=redis_key(prefix, uuid.uuid4().hex),
        )
    )
    settings.KIWOOM_BASE_URL = handle.base_url
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_ACCOUNT = handle.account
    backends._broker = broker
    reset_cache()
    try:
        yield broker
    finally:
        broker.close()
