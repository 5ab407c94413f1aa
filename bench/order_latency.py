"""Order latency: strategy intent → order request on the wire (simulator loopback), and fills per second (#13).

(a) Intent → wire. The realtime process's path: `services.aorder_submit(intent, rest.place_order)` —
validation, risk hook, the committed order row (created already claimed: one transaction), then the async
REST client's kt10000. "On the wire" is when the simulator's TR handler receives the request (its
aiohttp handler is wrapped to stamp `time.perf_counter()`, the machine's monotonic clock, which a
simulator in a process of its own shares). (a') the same up to the moment the request's bytes are handed
to the kernel on our side (asyncio's socket transport `write`, stamped): literally on the wire; (a) adds
the simulator process's wake-up and its HTTP parsing. For comparison, (a0) the bare client call alone (no database) → wire. Orders are
paced (`--gap-ms`) so the shared request budget does not queue them: the figure is our path, not the
rate limit. Goal p99 ≤ 5 ms. (a1) splits (a) into its steps: intent → the order row committed
(`aorder_create`: the transaction on the loop's own connection — lock, snapshot, check, insert, commit),
→ the broker call starts,
→ on the wire (the client: limiter, token, HTTP). By default the rate-limit slot and the token are taken
while the row commits (`prepare=rest.order_slot`; "slot + token ready" is measured from t0);
`--no-early-slot` takes them after the commit, as before.

(b) Fills processed per second: `services.report_apply` of 00-frame reports for `--fills` fill steps
(5 per order; each locks the order and the position, writes the fill, the position, the trade log
when selling, the journal), then the same reports again (duplicates: the idempotent no-op path).

Between orders (off the measured path) only the newest `--live` bench orders stay live, the rest are
marked cancelled: on a trading day orders fill or are cancelled, and the pre-trade snapshot reads the
account's live orders (`--live -1`: all stay live, the earlier set-up, where the snapshot grows through
the run).

    .venv/bin/python bench/order_latency.py [--orders 300] [--fills 1000] [--gap-ms 25] [--live 10]
                                            [--loop uvloop|asyncio]

Uses its own database (``DATABASE_URL``, default ``bench_trades``, created if missing; its trades tables
are emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_trades"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def setup_django() -> None:
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.trades.models import Fill, Order, OrderTransition, Position, ReconciliationRun, Trade

    Trade.objects.all().delete()
    Fill.objects.all().delete()
    OrderTransition.objects.all().delete()
    Order.objects.filter(parent__isnull=False).delete()
    Order.objects.all().delete()
    Position.objects.all().delete()
    ReconciliationRun.objects.all().delete()
    # The benches measure the order path, not the risk limits: a version without entry limits (the
    # check still runs, under its lock), and a base price that values the market buys.
    from apps.risk.testing import permissive_config, seed_base_price

    permissive_config()
    seed_base_price("005930", 70_000)


def wire_stamps() -> list[float]:
    """Wrap the simulator's TR handler: every order TR's arrival time."""
    from apps.broker.simulator.server import SimServer

    stamps: list[float] = []
    original = SimServer.handle_tr

    async def handle_tr(self, request):  # type: ignore[no-untyped-def]
        if request.headers.get("api-id") in ("kt10000", "kt10001"):
            stamps.append(time.perf_counter())
        return await original(self, request)

    SimServer.handle_tr = handle_tr  # type: ignore[method-assign]
    return stamps


steps: list[tuple[float, float, float, float]] = []
on_socket: list[float] = []  # intent → the request written to our socket
written: list[float] = []  # when an order request's first bytes went to our socket (bench/_wire.py)


async def arrived(stamps: list[float], before: int) -> bool:
    """The simulator's stamp of the request just answered (a simulator process reports it on a pipe,
    which may lag the HTTP reply by a little)."""
    for _ in range(2000):
        if len(stamps) > before:
            return True
        await asyncio.sleep(0.0005)
    return False


async def latency(  # type: ignore[no-untyped-def]
    sim,
    n: int,
    gap: float,
    stamps: list[float],
    early_slot: bool = True,
    live: int | None = 10,
    unseen: bool = False,
) -> tuple[list[float], list[float]]:
    from apps.broker.contract import OrderType, Side
    from apps.broker.kiwoom.rest import KiwoomRestClient
    from apps.broker.tests.client_support import client_config
    from apps.trades.services import OrderIntent, aorder_submit

    cfg = client_config(sim, rate_query_per_sec=1000.0, rate_burst=50, key_prefix="bench-trades")
    rest = KiwoomRestClient(cfg)
    await rest.account_number()  # token and connection warm
    from apps.trades.services import aorder as executor
    from apps.trades.services import orderconn

    bare: list[float] = []
    full: list[float] = []
    marks: dict[str, float] = {}
    create = executor.aorder_create

    async def stamped_create(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = await create(*args, **kwargs)
        marks["committed"] = time.perf_counter()
        return result

    async def stamped_place(**kwargs):  # type: ignore[no-untyped-def]
        marks["place"] = time.perf_counter()
        return await rest.place_order(**kwargs)

    async def stamped_prepare():  # type: ignore[no-untyped-def]
        held = await rest.order_slot()
        marks["slot"] = time.perf_counter()

        async def place(**kwargs):  # type: ignore[no-untyped-def]
            marks["place"] = time.perf_counter()
            return await held(**kwargs)

        return place

    executor.aorder_create = stamped_create  # type: ignore[assignment]
    from apps.core import gcpause

    gcpause.freeze()  # as `run_realtime` does after start-up
    for _ in range(20):  # warm-up: connection pool, ORM, first-query costs
        before = len(stamps)
        await aorder_submit(
            OrderIntent(
                code="005930", side="buy", quantity=1, order_type="market", account_no=sim.account
            ),
            rest.place_order,
        )
        await arrived(stamps, before)
    for i in range(n):
        before = len(stamps)
        t0 = time.perf_counter()
        await rest.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
        if await arrived(stamps, before):
            bare.append(stamps[before] - t0)
        await asyncio.sleep(gap)
        before = len(stamps)
        sent_before = len(written)
        t0 = time.perf_counter()
        await aorder_submit(
            OrderIntent(
                code="005930",
                side="buy",
                quantity=1,
                order_type="market",
                account_no=sim.account,
                strategy_tag="bench",
                cause_ref=str(i),
            ),
            stamped_place,
            prepare=stamped_prepare if early_slot else None,
        )
        if await arrived(stamps, before):
            full.append(stamps[before] - t0)
            if len(written) > sent_before:
                on_socket.append(written[sent_before] - t0)
            steps.append(
                (
                    marks["committed"] - t0,
                    marks["place"] - marks["committed"],
                    stamps[before] - marks["place"],
                    marks.pop("slot", t0) - t0,
                )
            )
        if live is not None:
            from _db import retire_orders

            await asyncio.to_thread(retire_orders, live)  # between orders, off the measured path
            if not unseen:
                # As the trades handler does after the cancels' order events (`orderconn.refresh`):
                # the next order's single round trip checks against the account's fresh snapshot.
                await orderconn.refresh()
        await asyncio.sleep(gap)
    executor.aorder_create = create  # type: ignore[assignment]
    await rest.aclose()
    return bare, full


def fills_per_second(n_fills: int) -> tuple[float, float]:
    from apps.broker.contract import OrderStatus as BS
    from apps.trades.models import FillSource, Order
    from apps.trades.services import BrokerOrderReport, report_apply

    at = dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)
    steps = 5
    reports = []
    for i in range(n_fills // steps):
        order = Order.objects.create(
            account_no="bench",
            code=f"{100000 + i % 50:06d}",
            side="buy",
            order_type="limit",
            quantity=steps * 10,
            price=10_000,
            status="accepted",
            broker_order_no=f"B{i:07d}",
        )
        for s in range(1, steps + 1):
            reports.append(
                BrokerOrderReport(
                    order_no=order.broker_order_no,
                    original_order_no=None,
                    code=order.code,
                    side="buy",
                    quantity=order.quantity,
                    price=10_000,
                    cum_quantity=s * 10,
                    cum_amount=s * 10 * 10_000,
                    status=BS.PARTIALLY_FILLED if s < steps else BS.FILLED,
                    at=at,
                    source=FillSource.REALTIME,
                    execution_no=f"E{i}-{s}",
                    remaining=order.quantity - s * 10,
                )
            )
    t0 = time.perf_counter()
    for r in reports:
        report_apply(r)
    first = len(reports) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for r in reports:
        report_apply(r)
    dup = len(reports) / (time.perf_counter() - t0)
    return first, dup


def serve_sim() -> None:
    """The simulator alone (`--serve-sim`): its credentials as the first line on stdout, then one line
    per order TR with its arrival time. `time.perf_counter()` is CLOCK_MONOTONIC on Linux, one clock for
    every process of the machine, so the stamps compare with the bench's. Ends when stdin closes."""
    import django

    django.setup()
    from decimal import Decimal

    from apps.broker.simulator.adapter import default_start
    from apps.broker.simulator.server import ServerConfig, SimServer
    from apps.broker.simulator.testing import running_simulator

    original = SimServer.handle_tr

    async def handle_tr(self, request):  # type: ignore[no-untyped-def]
        if request.headers.get("api-id") in ("kt10000", "kt10001"):
            print(f"T {time.perf_counter()!r}", flush=True)
        return await original(self, request)

    SimServer.handle_tr = handle_tr  # type: ignore[method-assign]

    async def run() -> None:
        async with running_simulator(
            config=ServerConfig(rate_limit_per_s=None, ping_interval_s=3600),
            start=default_start(dt.date(2025, 11, 3), dt.time(9, 5)),
            use_krx_calendar=False,
            participation=Decimal("0.5"),
        ) as sim:
            from apps.core import gcpause

            gcpause.freeze_after_start(asyncio.get_running_loop())  # as `kiwoom_sim` does
            keys = ("app_key", "secret_key", "account", "base_url", "ws_url")
            print(json.dumps({k: getattr(sim, k) for k in keys}), flush=True)
            await asyncio.to_thread(sys.stdin.read)

    from apps.core import aio

    aio.run(run())  # as `kiwoom_sim` runs (asyncio unless ASYNC_UVLOOP)


@contextlib.contextmanager
def sim_process() -> Iterator[tuple[Any, list[float]]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-sim"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    handle = SimpleNamespace(**json.loads(proc.stdout.readline()))
    stamps: list[float] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("T "):
                stamps.append(float(line[2:]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield handle, stamps
    finally:
        proc.stdin.close()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--fills", type=int, default=1000)
    parser.add_argument("--gap-ms", type=float, default=25.0)
    parser.add_argument(
        "--sim",
        choices=("process", "thread"),
        default="process",
        help="the simulator in a process of its own (as in production: its work does not share our "
        "GIL) or on this process's event loop",
    )
    parser.add_argument(
        "--no-early-slot",
        dest="early_slot",
        action="store_false",
        help="take the rate-limit slot and the token after the commit (as before `order_slot`)",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="asyncio",
        help="our side's event loop (`run_realtime`: asyncio unless ASYNC_UVLOOP)",
    )
    parser.add_argument(
        "--live",
        type=int,
        default=10,
        help="bench orders kept live (the rest marked cancelled between orders); -1: all stay live, "
        "as before (every snapshot then reads the whole run's orders)",
    )
    parser.add_argument(
        "--unseen",
        action="store_true",
        help="the cancels between orders are not followed by the trades handler's snapshot refresh: "
        "every order's single round trip finds the snapshot changed (its worst case)",
    )
    parser.add_argument("--serve-sim", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sim:
        serve_sim()
        return
    setup_django()
    global written
    from _wire import socket_stamps

    written = socket_stamps()
    import logging

    logging.getLogger("apps").setLevel(logging.WARNING)
    from decimal import Decimal

    from apps.broker.simulator.adapter import default_start
    from apps.broker.simulator.server import ServerConfig
    from apps.broker.simulator.testing import running_simulator

    live = None if args.live < 0 else args.live

    async def run() -> tuple[list[float], list[float]]:
        if args.sim == "process":
            with sim_process() as (sim, stamps):
                return await latency(
                    sim, args.orders, args.gap_ms / 1000, stamps, args.early_slot, live, args.unseen
                )
        stamps = wire_stamps()
        async with running_simulator(
            config=ServerConfig(rate_limit_per_s=None, ping_interval_s=3600),
            start=default_start(dt.date(2025, 11, 3), dt.time(9, 5)),
            use_krx_calendar=False,
            participation=Decimal("0.5"),
        ) as sim:
            return await latency(
                sim, args.orders, args.gap_ms / 1000, stamps, args.early_slot, live, args.unseen
            )

    if args.loop == "uvloop":  # as `run_realtime` runs (ASYNC_UVLOOP)
        import uvloop

        bare, full = uvloop.run(run())
    else:
        bare, full = asyncio.run(run())
    print(f"event loop: {args.loop}; live orders kept: {'all' if live is None else live}")
    print(f"simulator: {args.sim}")
    ms = lambda v: v * 1000  # noqa: E731
    print(
        f"orders: {len(full)} through aorder_submit, {len(bare)} bare client calls (simulator loopback)"
    )
    print(
        f"(a0) bare client call → wire:        p50 {ms(statistics.median(bare)):.2f} ms  "
        f"p99 {ms(pct(bare, 99)):.2f} ms  max {ms(max(bare)):.2f} ms"
    )
    print(
        f"(a)  intent → order row → wire:      p50 {ms(statistics.median(full)):.2f} ms  "
        f"p99 {ms(pct(full, 99)):.2f} ms  max {ms(max(full)):.2f} ms   (goal p99 ≤ 5 ms; "
        "received by the simulator's TR handler)"
    )
    if on_socket:
        print(
            f"(a') intent → request on our socket:  p50 {ms(statistics.median(on_socket)):.2f} ms  "
            f"p99 {ms(pct(on_socket, 99)):.2f} ms  max {ms(max(on_socket)):.2f} ms   (the bytes "
            "handed to the kernel; (a) adds the simulator's wake-up and HTTP parsing)"
        )
    parts = [("row committed", 0), ("commit → call starts", 1), ("client → wire", 2)]
    if args.early_slot:
        parts.append(("slot + token ready", 3))  # from t0, concurrent with the row's transaction
    print(f"early slot (order_slot during the transaction): {'on' if args.early_slot else 'off'}")
    for label, k in parts:
        values = [row[k] for row in steps]
        print(
            f"(a1) {label:<22}            p50 {ms(statistics.median(values)):.2f} ms  "
            f"p99 {ms(pct(values, 99)):.2f} ms"
        )
    from apps.core.live import live_flush

    live_flush()
    first, dup = fills_per_second(args.fills)
    print(f"(b)  fills processed: {first:,.0f}/s new, {dup:,.0f}/s duplicates (no-op)")
    from _db import commit_floor_line

    from apps.trades.services.aorder import SINGLE_COUNTS

    print(f"single round trip (apps.trades.services.aorder._single): {dict(SINGLE_COUNTS)}")
    print(commit_floor_line(os.environ["DATABASE_URL"]))


if __name__ == "__main__":
    main()
