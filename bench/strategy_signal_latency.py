"""Strategy entry latency: a 0B tick → the strategy's buy order on the wire (simulator loopback), while the
ticks of 100 watched codes stream.

`--sim process` (the default, as in production): the simulator is a process of its own (bench/_simproc.py:
it stamps t0 on its loop before the frame goes to its WebSocket hub and the wire time when kt10000 arrives;
CLOCK_MONOTONIC is one clock for every process) and streams the noise itself. `--sim thread`: the whole
realtime path in one process (the earlier set-up): the simulator (thread) pushes 0B frames. Either way the
realtime hub (thread, its own loop) parses them and hands them to the `strategy.engine` handler, which feeds the engine (ticks, and
the minute bars it completes) — here a trivial test strategy that buys the measured code on each of its
ticks (a new signal key each time) and never signals on the other 99 codes — and sends each signal through
`asignal_execute`: the Signal row committed (key unique, gate read, budget read), then `aorder_submit` (the
order row under the risk lock, then kt10000 on the async REST client). "On the wire" is when the simulator's
TR handler receives kt10000 (stamped with `time.perf_counter()`; one process, one clock); t0 just before
the measured frame is handed to the simulator's WebSocket hub. Reported: tick → handler (socket, parse,
dispatch), handler → wire (engine, Signal row, order row, REST), tick → wire. Goal p99 ≤ 5 ms.
(′) the same up to the moment the request's bytes are handed to the kernel on our side (asyncio's
socket transport `write`, stamped: `bench/_wire.py`, as `bench/order_latency.py`'s (a′)): literally on
the wire; the line above adds the simulator process's wake-up and its HTTP parsing. (″) with `--pcap` (root, `tcpdump`): both ends
read off a capture of the loopback interface — the tick frame's segment leaving the simulator, the order
request's leaving us — one kernel clock, neither process's scheduling in it (`bench/_pcap.py`).
The other 99 codes' frames stream at `--noise` frames/s meanwhile. Between signals (off the measured
path) only the newest `--live` bench orders stay live, the rest are marked cancelled (as
`bench/order_latency.py` does: on a trading day orders fill or are cancelled, and the pre-trade
snapshot reads the account's live orders; `--live -1`: all stay live, the earlier set-up).

    .venv/bin/python bench/strategy_signal_latency.py [--signals 200] [--gap-ms 30] [--noise 2000]
                                                      [--sim process|thread] [--live 10] [--pcap]

Uses its own database (``DATABASE_URL``, default ``bench_strategy``, created if missing; its trades and
strategy tables are emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DB_NAME = "bench_strategy"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("REDIS_KEY_PREFIX", "bench-strategy:")

CODE = "005930"


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.core.models import RuntimeFlag
    from apps.risk.testing import permissive_config
    from apps.strategy.models import Signal
    from apps.trades.models import Fill, Order, OrderTransition, Position, Trade

    Signal.objects.all().delete()
    Trade.objects.all().delete()
    Fill.objects.all().delete()
    OrderTransition.objects.all().delete()
    Order.objects.filter(parent__isnull=False).delete()
    Order.objects.all().delete()
    Position.objects.all().delete()
    permissive_config()
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})


def wire_stamps() -> list[float]:
    from apps.broker.simulator.server import SimServer

    stamps: list[float] = []
    original = SimServer.handle_tr

    async def handle_tr(self, request):  # type: ignore[no-untyped-def]
        if request.headers.get("api-id") == "kt10000":
            stamps.append(time.perf_counter())
        return await original(self, request)

    SimServer.handle_tr = handle_tr  # type: ignore[method-assign]
    return stamps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    parser.add_argument(
        "--noise", type=float, default=2000.0, help="frames/s of the other 99 codes"
    )
    parser.add_argument("--sim", choices=("process", "thread"), default="process")
    parser.add_argument(
        "--live",
        type=int,
        default=10,
        help="bench orders kept live (the rest marked cancelled between signals); -1: all stay live",
    )
    parser.add_argument(
        "--pcap",
        action="store_true",
        help="also capture the loopback (tcpdump) and time tick → order between the packets",
    )
    parser.add_argument("--serve-sim", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sim:
        from _simproc import serve

        serve("kt10000")
        return
    setup_django()
    import logging

    logging.getLogger("apps").setLevel(logging.ERROR)
    from _db import commit_floor_line, retire_orders
    from _pcap import Capture, available, packets, pair
    from _simproc import production_hub
    from _stats import nearest_rank
    from _wire import socket_stamps

    from apps.conditions.tests.live_support import at, realtime_hub, simulated_broker, wait_until
    from apps.realtime.handlers import HubContext
    from apps.strategy import feeds
    from apps.strategy.engine.base import Strategy, StrategySettings
    from apps.strategy.engine.events import Candidate, Event, Signal, TickEvent
    from apps.strategy.engine.runner import Engine
    from apps.strategy.realtime_handlers import StrategyEngineHandler

    class EveryTick(Strategy):
        name = "bench"

        def __init__(self, settings: StrategySettings) -> None:
            super().__init__(settings)
            self.n = 0

        def on_event(self, event: Event) -> list[Signal]:
            if not isinstance(event, TickEvent) or event.code != CODE:
                return []
            self.n += 1
            return [
                Signal(
                    self.name, CODE, "buy", event.at, "bench", event.price, {}, f"bench:{self.n}"
                )
            ]

    found = {"bench": StrategySettings("bench", 1, True, 10**13, {"entry_krw": 100_000})}
    feeds.active_settings = lambda: found  # type: ignore[assignment]
    feeds.build_engine = lambda s: Engine([EveryTick(s["bench"])])  # type: ignore[assignment]
    feeds.news_subscribe = lambda cb: lambda: None  # type: ignore[assignment]
    feeds.latest_scan_meta = lambda: None  # type: ignore[assignment]
    stamps = wire_stamps()
    seen: list[float] = []

    class Stamped(StrategyEngineHandler):
        def on_tick(self, tick: Any) -> None:
            if tick.code == CODE:
                seen.append(time.perf_counter())
            super().on_tick(tick)

    def factory(ctx: HubContext) -> StrategyEngineHandler:
        return Stamped(ctx)

    tick_to_handler: list[float] = []
    handler_to_wire: list[float] = []
    total: list[float] = []
    on_socket: list[float] = []  # tick → the order's bytes written to our socket
    written = socket_stamps()
    warmup = 20

    def candidates_of(codes: list[str]) -> list[Candidate]:
        return [
            Candidate(c, c, r, None, Decimal(1), Decimal(0), None, 80)
            for r, c in enumerate([CODE, *codes], 1)
        ]

    def values_of(i: int) -> dict[str, str]:
        return {"20": "090600", "10": f"+{70_000 + (i % 10) * 100}", "15": "+1"}

    def measure(handler: Any, publish: Any, result: Any) -> None:
        for i in range(args.signals + warmup):
            wait_until(lambda: not handler._tasks, timeout=30)
            n_seen, n_written = len(seen), len(written)
            got = result(publish(i))
            if args.live >= 0:
                # Between signals, off the measured path: right after the order, then the gap (the
                # query holds this process's GIL, which the hub's thread shares: run just before a
                # publish it delayed that tick's delivery by up to 2 ms).
                retire_orders(args.live)
            if got is None or i < warmup or len(seen) <= n_seen:
                time.sleep(args.gap_ms / 1000)
                continue
            t0, wire = got
            arrived = seen[n_seen]
            tick_to_handler.append(arrived - t0)
            handler_to_wire.append(wire - arrived)
            total.append(wire - t0)
            if len(written) > n_written:
                on_socket.append(written[n_written] - t0)
            time.sleep(args.gap_ms / 1000)

    captured: tuple[list[float], int | None] | None = None
    if args.pcap and (args.sim != "process" or not available()):
        parser.error("--pcap needs --sim process, tcpdump and the right to capture (root)")
    if args.sim == "process":
        from _simproc import process_broker, sim_process

        with sim_process(__file__) as sp, process_broker(sp.handle, "bench-strategy") as broker:
            codes = [c for c in sp.handle.codes if c != CODE][:99]
            feeds.latest_candidates = lambda: candidates_of(codes)  # type: ignore[assignment]
            with realtime_hub(
                broker,
                handlers={"strategy.engine": factory},
                strategy_watch_top=100,
                **production_hub(),
            ) as rt:
                handler = rt.hub.handler("strategy.engine")
                wait_until(lambda: sp.subscribed(CODE, *codes), timeout=30)
                port = urlsplit(sp.handle.base_url).port
                capture = Capture(port) if args.pcap else contextlib.nullcontext()
                with capture:
                    sp.command(f"N {args.noise} {' '.join(codes)}")
                    started = time.perf_counter()
                    measure(
                        handler, lambda i: sp.publish(CODE, values_of(i)), lambda _: sp.result()
                    )
                    elapsed = time.perf_counter() - started
                if isinstance(capture, Capture):
                    tick_marker = f'"item":"{CODE}"'.encode()
                    wired = pair(list(packets(capture.path)), port, tick_marker, b"kt10000")
                    captured = (wired[warmup:], capture.dropped)
                    capture.path.unlink(missing_ok=True)
                sp.command("N 0")
                reply = sp.reply("N")
                noise_sent = int(reply.split()[1]) if reply else 0
                stats = handler.health()
    else:
        stamps = wire_stamps()
        with (
            tempfile.TemporaryDirectory() as tmp,
            simulated_broker(Path(tmp), start=at("09:05:00"), use_krx_calendar=False) as (
                sim,
                broker,
            ),
        ):
            codes = [i.code for i in sim.call(sim.exchange.instruments) if i.code != CODE][:99]
            feeds.latest_candidates = lambda: candidates_of(codes)  # type: ignore[assignment]
            with realtime_hub(
                broker,
                handlers={"strategy.engine": factory},
                strategy_watch_top=100,
                **production_hub(),
            ) as rt:
                handler = rt.hub.handler("strategy.engine")
                wait_until(lambda: all(sim.call(sim.server.hub.wants, "0B", c) for c in codes))
                wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
                noise = {"on": True, "sent": 0}

                def publish_noise() -> None:
                    if not noise["on"]:
                        return
                    code = codes[noise["sent"] % len(codes)]
                    values = {
                        "20": "090600",
                        "10": f"+{10_000 + noise['sent'] % 50 * 10}",
                        "15": "+3",
                    }
                    sim.server.hub.publish("0B", code, values)
                    noise["sent"] += 1
                    sim.loop.call_later(1 / args.noise, publish_noise)

                def publish(i: int) -> tuple[int, float]:
                    n_stamps = len(stamps)
                    t0 = time.perf_counter()
                    sim.loop.call_soon_threadsafe(
                        lambda: sim.server.hub.publish("0B", CODE, values_of(i))
                    )
                    return n_stamps, t0

                def thread_result(sent: tuple[int, float]) -> tuple[float, float] | None:
                    n_stamps, t0 = sent
                    try:
                        wait_until(lambda: len(stamps) > n_stamps, timeout=10, step=0.0005)
                    except AssertionError:
                        return None
                    return t0, stamps[n_stamps]

                sim.loop.call_soon_threadsafe(publish_noise)
                started = time.perf_counter()
                measure(handler, publish, thread_result)
                elapsed = time.perf_counter() - started
                noise["on"] = False
                noise_sent = noise["sent"]
                stats = handler.health()
                asyncio.run_coroutine_threadsafe(asyncio.sleep(0), rt.loop).result(5)

    def line(name: str, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (
            f"{name:<36} p50 {nearest_rank(ms, 0.5):6.2f} ms  p99 {nearest_rank(ms, 0.99):6.2f} ms  "
            f"max {max(ms):6.2f} ms"
        )

    print(
        f"signals: {len(total)} measured (+{warmup} warm-up), simulator loopback, simulator in a "
        f"{args.sim}; 100 watched codes, {noise_sent / elapsed:,.0f} noise frames/s; live orders "
        f"kept: {'all' if args.live < 0 else args.live}"
    )
    print(line("tick → strategy handler (ws, parse)", tick_to_handler))
    print(line("handler → wire (engine, rows, REST)", handler_to_wire))
    print(line("tick → entry order on the wire", total) + "   (goal p99 ≤ 5 ms)")
    if on_socket:
        print(
            line("(′) tick → order on our socket", on_socket)
            + "   (its bytes handed to the kernel: bench/_wire.py)"
        )
    if captured is not None:
        wired, dropped = captured
        print(
            line("(″) tick → order, loopback capture", wired)
            + f"   ({len(wired)} pairs; packets dropped: {dropped}; bench/_pcap.py)"
        )
    print(
        f"handler: ticks {stats['ticks']}, signals {stats['signals']}, "
        f"outcomes {stats['signal_status']}, errors {stats['errors']}"
    )
    from apps.trades.services.aorder import SINGLE_COUNTS

    print(f"single round trip (apps.trades.services.aorder._single): {dict(SINGLE_COUNTS)}")
    print(commit_floor_line(os.environ["DATABASE_URL"]))


if __name__ == "__main__":
    main()
