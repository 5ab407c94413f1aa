"""Realtime hub dispatch: a fast 0B handler's receive latency, alone and beside a handler that takes 50 ms
per event (issue 10).

Each scenario sends `--count` 0B ticks at `--rate` per second to a hub (`apps.realtime.hub.Hub`) whose
handlers are a fast recorder (appends the arrival time) and, in the second scenario, a slow one that
awaits `--slow-ms` per event. Latency = the fast handler's arrival − the tick's scheduled send time
(so a stalled sender counts too). Sources:

- `fake` (default): the in-memory broker's feed, the producer calling the hub's dispatcher on the same
  event loop — the hub's own cost, nothing else. A third row shows the design the hub replaced: the
  feed's callback awaiting each handler in turn (inline), which the slow handler stalls.
- `sim`: the bundled simulator (thread) pushes REAL 0B frames over its WebSocket to the Kiwoom client on
  the hub's loop (another thread): parse, dispatch, queues, all over real sockets. Needs Redis
  (`REDIS_URL`, default db 13) for the client's token store and rate limiter; no database.

    .venv/bin/python bench/realtime_dispatch.py [--source fake|sim] [--count N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")

from _stats import nearest_rank  # noqa: E402  (bench/ is the script's directory)

CODE = "005930"


def row(label: str, latencies_ms: list[float], sent: int, extra: str = "") -> None:
    if not latencies_ms:
        print(f"{label:<44} no ticks received")
        return
    print(
        f"{label:<44} n={len(latencies_ms):>5}/{sent:<5} p50={statistics.median(latencies_ms):8.3f} ms "
        f"p99={nearest_rank(latencies_ms, 0.99):8.3f} ms max={max(latencies_ms):8.3f} ms {extra}"
    )


def handlers(slow_ms: float | None) -> tuple[Any, Any, dict[str, Callable[[Any], Any]]]:
    from apps.realtime.tests.handlers import Recorder, Sleeper

    fast = Recorder(frozenset({CODE}))
    slow = Sleeper(frozenset({CODE}), delay=(slow_ms or 0) / 1000)
    chosen: dict[str, Callable[[Any], Any]] = {"fast": lambda ctx: fast}
    if slow_ms is not None:
        chosen["slow"] = lambda ctx: slow
    return fast, slow, chosen


async def teardown(hub: Any) -> None:
    # Not hub.shutdown(): that reports "stopped" to the health table, and this benchmark has no database.
    for slot in hub.slots:
        if slot.task is not None:
            slot.task.cancel()
    if hub.feed is not None:
        await hub.feed.close()


# ---------------------------------------------------------------------------------------------- fake
async def fake_run(count: int, rate: float, slow_ms: float | None, inline: bool) -> None:
    from apps.broker.backends.memory import MemoryBroker
    from apps.broker.kiwoom.events import make_tick
    from apps.realtime.hub import Hub

    fast, slow, chosen = handlers(slow_ms)
    hub = Hub(MemoryBroker(), handlers=chosen, resync_seconds=3600, heartbeat_seconds=3600)
    await hub.start()
    await hub.cycle()
    at = dt.datetime.now(dt.UTC)
    ticks = [make_tick(CODE, 70_000 + i % 100, 1, at) for i in range(count)]
    scheduled: list[float] = []
    start = time.monotonic() + 0.05
    for i, tick in enumerate(ticks):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        scheduled.append(due)
        if inline:
            # The replaced design: the socket's callback handles each event before reading on.
            fast.on_event(tick)
            if slow_ms is not None:
                await slow.on_event(tick)
        else:
            hub.dispatch(tick)
    fast_slot = next(s for s in hub.slots if s.name == "fast")
    await asyncio.wait_for(fast_slot.queue.join(), 10)
    latencies = [(a - s) * 1000 for a, s in zip(fast.arrived, scheduled, strict=False)]
    slot = {s.name: s for s in hub.slots}
    extra = ""
    if "slow" in slot and not inline:
        extra = f"(slow: {slot['slow'].handled} handled, {slot['slow'].queue.qsize()} queued, {slot['slow'].dropped} dropped)"
    label = "inline (old)" if inline else "hub"
    label += ", fast alone" if slow_ms is None else f", + handler sleeping {slow_ms:g} ms"
    row(label, latencies, count, extra)
    await teardown(hub)


# ----------------------------------------------------------------------------------------------- sim
def sim_run(sim: Any, broker: Any, count: int, rate: float, slow_ms: float | None) -> None:
    from apps.realtime.hub import Hub

    fast, _slow, chosen = handlers(slow_ms)
    loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            hub = Hub(broker, handlers=chosen, resync_seconds=3600, heartbeat_seconds=3600)
            box["hub"] = hub
            await hub.start()
            await hub.cycle()
            ready.set()
            box["stop"] = asyncio.Event()
            await box["stop"].wait()
            await teardown(hub)

        loop.run_until_complete(go())
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(30)
    while not sim.call(sim.server.hub.wants, "0B", CODE):
        time.sleep(0.01)
    scheduled: list[float] = []
    start = time.monotonic() + 0.05
    for i in range(count):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        scheduled.append(due)
        values = {"20": "090100", "10": f"+{70_000 + i % 100}", "15": "+1", "13": str(i + 1)}
        sim.call(sim.server.hub.publish, "0B", CODE, values)
    deadline = time.monotonic() + 10
    while len(fast.arrived) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    latencies = [(a - s) * 1000 for a, s in zip(fast.arrived, scheduled, strict=False)]
    hub = box["hub"]
    slot = {s.name: s for s in hub.slots}
    extra = ""
    if "slow" in slot:
        extra = f"(slow: {slot['slow'].handled} handled, {slot['slow'].queue.qsize()} queued)"
    label = (
        "sim → hub, fast alone"
        if slow_ms is None
        else f"sim → hub, + handler sleeping {slow_ms:g} ms"
    )
    row(label, latencies, count, extra)
    loop.call_soon_threadsafe(box["stop"].set)
    thread.join(15)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--source", choices=("fake", "sim"), default="fake")
    parser.add_argument("--count", type=int, default=2000, help="ticks per scenario")
    parser.add_argument("--rate", type=float, default=1000.0, help="ticks per second")
    parser.add_argument("--slow-ms", type=float, default=50.0)
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("apps.realtime").setLevel(logging.WARNING)
    logging.getLogger("apps.broker").setLevel(logging.WARNING)
    print(f"{args.count} 0B ticks at {args.rate:g}/s per scenario; source {args.source}")
    if args.source == "fake":
        asyncio.run(fake_run(args.count, args.rate, None, inline=False))
        asyncio.run(fake_run(args.count, args.rate, args.slow_ms, inline=False))
        # The old inline path stalls on every event: fewer ticks, or it runs for minutes.
        inline_count = min(args.count, 100)
        asyncio.run(fake_run(inline_count, args.rate, args.slow_ms, inline=True))
        return
    from apps.conditions.tests.live_support import simulated_broker

    with tempfile.TemporaryDirectory() as tmp, simulated_broker(Path(tmp)) as (sim, broker):
        sim_run(sim, broker, args.count, args.rate, None)
        sim_run(sim, broker, args.count, args.rate, args.slow_ms)


if __name__ == "__main__":
    main()
