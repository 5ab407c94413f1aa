"""Risk exit latency: a 0B tick through the stop → the exit's sell order on the wire (simulator loopback).

The simulator pushes a 0B frame of a held code priced under its -3% stop; the realtime hub parses it and
hands it to the `risk.exits` handler's queue; the handler runs the pure evaluator and sends the sell through
the executor's async path (`aorder_submit`: the committed order row with its reservation under a row lock,
then kt10001 on the async REST client). "On the wire" is when the simulator's TR handler receives kt10001
(its aiohttp handler is wrapped to stamp `time.perf_counter()`). t0 is taken on the simulator's loop just
before the frame is handed to its WebSocket hub. Reported: tick → handler (socket, parse, dispatch),
handler → wire (evaluate, order row, REST call), and tick → wire. Goal p99 ≤ 5 ms. (′) the same up to the
moment the request's bytes are handed to the kernel on our side (asyncio's socket transport `write`,
stamped: `bench/_wire.py`, as `bench/order_latency.py`'s (a′)): literally on the wire; tick → wire adds
the simulator process's wake-up and its HTTP parsing. (″) with `--pcap` (root, `tcpdump`): both ends read
off a capture of the loopback interface — the tick frame's segment leaving the simulator, the order
request's leaving us — one kernel clock, neither process's scheduling in it (`bench/_pcap.py`).

`--sim process` (the default, as in production): the simulator is a process of its own (`--serve-sim`,
driven over its stdin; it reports t0 and the wire time together on stdout after the wire — CLOCK_MONOTONIC is
one clock for every process), and the hub's loop is the only busy thread of the bench's process (the driver
blocks on a queue while an exit is measured). `--sim thread`: the simulator in a thread of the bench's
process (the earlier set-up: the simulator's and the hub's loops share one GIL). `--loop uvloop|asyncio`: the
hub's event loop (`run_realtime` runs on asyncio unless `ASYNC_UVLOOP`).

The simulator refuses the sell (the paper account holds nothing): the refusal comes after the wire, so the
figure is unchanged, and the refusal releases the reservation, so the next tick exits again (the retry
backoff is 0 here). Ticks are paced (`--gap-ms`) so that each exit is alone.

    .venv/bin/python bench/risk_exit_latency.py [--exits 200] [--gap-ms 30] [--sim process|thread]
                                                [--loop uvloop|asyncio] [--pcap]

Uses its own database (``DATABASE_URL``, default ``bench_risk``, created if missing; its trades tables are
emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DB_NAME = "bench_risk"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("REDIS_KEY_PREFIX", "bench-risk:")

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
    from apps.trades.models import Fill, Order, OrderTransition, Position, Trade

    Trade.objects.all().delete()
    Fill.objects.all().delete()
    OrderTransition.objects.all().delete()
    Order.objects.filter(parent__isnull=False).delete()
    Order.objects.all().delete()
    Position.objects.all().delete()


def wire_stamps() -> list[float]:
    from apps.broker.simulator.server import SimServer

    stamps: list[float] = []
    original = SimServer.handle_tr

    async def handle_tr(self, request):  # type: ignore[no-untyped-def]
        if request.headers.get("api-id") in ("kt10000", "kt10001"):
            stamps.append(time.perf_counter())
        return await original(self, request)

    SimServer.handle_tr = handle_tr  # type: ignore[method-assign]
    return stamps


def evaluate_us(n: int = 20_000) -> float:
    import datetime as dt
    from decimal import Decimal

    from apps.risk.exits import HeldPosition, evaluate
    from apps.risk.policy import ExitPolicy

    policy = ExitPolicy(Decimal("-3"), Decimal("5"), Decimal("2"), 10)
    pos = HeldPosition(CODE, 10, Decimal("70000"), 71_000)
    now = dt.datetime(2025, 2, 4, 1, 0, tzinfo=dt.UTC)
    close = dt.datetime(2025, 2, 4, 6, 30, tzinfo=dt.UTC)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(n):
            evaluate(pos, 70_000 + (i % 50) * 10, now, close, policy)
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return sorted(runs)[2]


def tick_values(i: int) -> dict[str, str]:
    # Under the -3% stop of a 70,000 average; the price varies so each frame is a new trade.
    return {"20": "090600", "10": f"-{60_000 + (i % 10) * 100}", "15": "-1", "13": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exits", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    parser.add_argument("--sim", choices=("process", "thread"), default="process")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="asyncio")
    parser.add_argument(
        "--pcap",
        action="store_true",
        help="also capture the loopback (tcpdump) and time tick → order between the packets",
    )
    parser.add_argument("--serve-sim", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sim:
        from _simproc import serve

        serve("kt10001")
        return
    setup_django()
    import logging

    logging.getLogger("apps").setLevel(logging.ERROR)
    from decimal import Decimal

    from _db import commit_floor_line
    from _pcap import Capture, available, packets, pair
    from _simproc import process_broker, production_hub, sim_process
    from _stats import nearest_rank
    from _wire import socket_stamps

    from apps.conditions.tests.live_support import at, realtime_hub, simulated_broker, wait_until
    from apps.realtime.handlers import HubContext
    from apps.risk.policy import ExitPolicy, set_exit_policy_provider
    from apps.risk.realtime_handlers import RiskExitsHandler
    from apps.trades.models import Position

    set_exit_policy_provider(
        lambda: ExitPolicy(stop_loss_pct=Decimal("-3"), exit_before_close_minutes=None)
    )
    seen: list[float] = []

    class Stamped(RiskExitsHandler):
        def on_tick(self, tick):  # type: ignore[no-untyped-def]
            seen.append(time.perf_counter())
            super().on_tick(tick)

    def factory(ctx: HubContext) -> RiskExitsHandler:
        return Stamped(ctx)

    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop

    tick_to_handler: list[float] = []
    handler_to_wire: list[float] = []
    total: list[float] = []
    on_socket: list[float] = []  # tick → the order's bytes written to our socket
    written = socket_stamps()
    warmup = 20

    def measure(
        rt: Any, account: str, publish: Any, result: Any, subscribed: Any
    ) -> dict[str, Any]:
        Position.objects.create(
            account_no=account,
            code=CODE,
            name="삼성전자",
            quantity=1_000_000,
            avg_price=70_000,
            cost_amount=70_000_000_000,
        )
        risk = rt.hub.handler("risk.exits")
        wait_until(lambda: any(CODE in s.wants.ticks for s in rt.hub.slots if s.handler is risk))
        wait_until(subscribed)
        for i in range(args.exits + warmup):
            wait_until(lambda: not any(e.sending for e in risk.exits.values()), timeout=30)
            n_seen, n_written = len(seen), len(written)
            publish(i)
            got = result()  # blocks (no polling) until the exit reached the wire
            if got is None or i < warmup or len(seen) <= n_seen:
                continue
            t0, wire = got
            arrived = seen[n_seen]
            tick_to_handler.append(arrived - t0)
            handler_to_wire.append(wire - arrived)
            total.append(wire - t0)
            if len(written) > n_written:
                on_socket.append(written[n_written] - t0)
            time.sleep(args.gap_ms / 1000)
        return risk.health()

    captured: tuple[list[float], int | None] | None = None
    if args.pcap and (args.sim != "process" or not available()):
        parser.error("--pcap needs --sim process, tcpdump and the right to capture (root)")
    if args.sim == "process":
        with (
            sim_process(__file__) as sp,
            process_broker(sp.handle, "bench-risk") as broker,
            realtime_hub(
                broker,
                handlers={"risk.exits": factory},
                loop_factory=loop_factory,
                risk_exit_retry_base=0.0,
                **production_hub(),
            ) as rt,
        ):
            port = urlsplit(sp.handle.base_url).port
            capture = Capture(port) if args.pcap else contextlib.nullcontext()
            with capture:
                stats = measure(
                    rt,
                    sp.handle.account,
                    lambda i: sp.publish(CODE, tick_values(i)),
                    sp.result,
                    lambda: sp.subscribed(CODE),
                )
            if isinstance(capture, Capture):
                marker = f'"item":"{CODE}"'.encode()
                wired = pair(list(packets(capture.path)), port, marker, b"kt10001")
                captured = (wired[warmup:], capture.dropped)
                capture.path.unlink(missing_ok=True)
    else:
        stamps: list[float] = wire_stamps()
        with (
            tempfile.TemporaryDirectory() as tmp,
            simulated_broker(Path(tmp), start=at("09:05:00"), use_krx_calendar=False) as (
                sim,
                broker,
            ),
            realtime_hub(
                broker,
                handlers={"risk.exits": factory},
                loop_factory=loop_factory,
                risk_exit_retry_base=0.0,
                **production_hub(),
            ) as rt,
        ):
            t0s: list[float] = []

            def publish(i: int) -> None:
                def go() -> None:
                    t0s.append(time.perf_counter())
                    sim.server.hub.publish("0B", CODE, tick_values(i))

                sim.loop.call_soon_threadsafe(go)

            def thread_result() -> tuple[float, float] | None:
                n = len(t0s) - 1 if t0s else 0
                try:
                    wait_until(lambda: len(stamps) > n, timeout=10, step=0.0005)
                except AssertionError:
                    return None
                return t0s[-1], stamps[n]

            stats = measure(
                rt,
                sim.account,
                publish,
                thread_result,
                lambda: sim.call(sim.server.hub.wants, "0B", CODE),
            )

    def line(name: str, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (
            f"{name:<34} p50 {nearest_rank(ms, 0.5):6.2f} ms  p99 {nearest_rank(ms, 0.99):6.2f} ms  "
            f"max {max(ms):6.2f} ms"
        )

    print(
        f"exits: {len(total)} measured (+{warmup} warm-up), simulator loopback, simulator in a "
        f"{args.sim}, hub on {args.loop}"
    )
    print(line("tick → risk handler (ws, parse)", tick_to_handler))
    print(line("risk handler → wire (row, REST)", handler_to_wire))
    print(line("tick → stop-exit order on the wire", total) + "   (goal p99 ≤ 5 ms)")
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
    print(f"{'evaluate() alone (pure function)':<34} p50 {evaluate_us():.2f} µs")
    print(
        f"handler: exits_sent {stats['exits_sent']}, refused {stats['exits_refused']}, "
        f"errors {stats['errors']}"
    )
    from apps.trades.services.aorder import SINGLE_COUNTS

    print(f"single round trip (apps.trades.services.aorder._single): {dict(SINGLE_COUNTS)}")
    print(commit_floor_line(os.environ["DATABASE_URL"]))


if __name__ == "__main__":
    main()
