"""Risk exit latency: a 0B tick through the stop → the exit's sell order on the wire (simulator loopback).

The whole realtime path in one process: the simulator (thread) pushes a 0B frame of a held code priced
under its -3% stop; the realtime hub (thread, its own loop) parses it and hands it to the `risk.exits`
handler's queue; the handler runs the pure evaluator and sends the sell through the executor's async path
(`aorder_submit`: the committed order row with its reservation under a row lock, then kt10001 on the async
REST client). "On the wire" is when the simulator's TR handler receives kt10001 (its aiohttp handler is
wrapped to stamp `time.perf_counter()`; one process, one clock). t0 is taken just before the frame is
handed to the simulator's WebSocket hub. Reported: tick → handler (socket, parse, dispatch), handler →
wire (evaluate, order row, REST call), and tick → wire. Goal p99 ≤ 5 ms.

The simulator refuses the sell (the paper account holds nothing): the refusal comes after the wire, so the
figure is unchanged, and the refusal releases the reservation, so the next tick exits again (the retry
backoff is 0 here). Ticks are paced (`--gap-ms`) so that each exit is alone.

    .venv/bin/python bench/risk_exit_latency.py [--exits 200] [--gap-ms 30]

Uses its own database (``DATABASE_URL``, default ``bench_risk``, created if missing; its trades tables are
emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exits", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=30.0)
    args = parser.parse_args()
    setup_django()
    import logging

    logging.getLogger("apps").setLevel(logging.ERROR)
    from decimal import Decimal

    from _stats import nearest_rank

    from apps.conditions.tests.live_support import at, realtime_hub, simulated_broker, wait_until
    from apps.realtime.handlers import HubContext
    from apps.risk.policy import ExitPolicy, set_exit_policy_provider
    from apps.risk.realtime_handlers import RiskExitsHandler
    from apps.trades.models import Position

    set_exit_policy_provider(
        lambda: ExitPolicy(stop_loss_pct=Decimal("-3"), exit_before_close_minutes=None)
    )
    stamps = wire_stamps()
    seen: list[float] = []

    class Stamped(RiskExitsHandler):
        def on_tick(self, tick):  # type: ignore[no-untyped-def]
            seen.append(time.perf_counter())
            super().on_tick(tick)

    def factory(ctx: HubContext) -> RiskExitsHandler:
        return Stamped(ctx)

    with (
        tempfile.TemporaryDirectory() as tmp,
        simulated_broker(Path(tmp), start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
    ):
        Position.objects.create(
            account_no=sim.account,
            code=CODE,
            name="삼성전자",
            quantity=1_000_000,
            avg_price=70_000,
            cost_amount=70_000_000_000,
        )
        with realtime_hub(broker, handlers={"risk.exits": factory}, risk_exit_retry_base=0.0) as rt:
            risk = rt.hub.handler("risk.exits")
            wait_until(
                lambda: any(CODE in s.wants.ticks for s in rt.hub.slots if s.handler is risk)
            )
            wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))

            def publish(i: int) -> None:
                values = {
                    "20": "090600",
                    "10": f"-{60_000 + (i % 10) * 100}",
                    "15": "-1",
                    "13": "1",
                }
                sim.server.hub.publish("0B", CODE, values)

            tick_to_handler: list[float] = []
            handler_to_wire: list[float] = []
            total: list[float] = []
            warmup = 20
            for i in range(args.exits + warmup):
                wait_until(lambda: not any(e.sending for e in risk.exits.values()), timeout=30)
                n_stamps, n_seen = len(stamps), len(seen)
                t0 = time.perf_counter()
                sim.loop.call_soon_threadsafe(publish, i)
                try:
                    wait_until(lambda n=n_stamps: len(stamps) > n, timeout=10, step=0.0005)
                except AssertionError:
                    continue
                if i < warmup or len(seen) <= n_seen:
                    continue
                wire, arrived = stamps[n_stamps], seen[n_seen]
                tick_to_handler.append(arrived - t0)
                handler_to_wire.append(wire - arrived)
                total.append(wire - t0)
                time.sleep(args.gap_ms / 1000)
            stats = risk.health()

    def line(name: str, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (
            f"{name:<34} p50 {nearest_rank(ms, 0.5):6.2f} ms  p99 {nearest_rank(ms, 0.99):6.2f} ms  "
            f"max {max(ms):6.2f} ms"
        )

    print(f"exits: {len(total)} measured (+{warmup} warm-up), simulator loopback, one process")
    print(line("tick → risk handler (ws, parse)", tick_to_handler))
    print(line("risk handler → wire (row, REST)", handler_to_wire))
    print(line("tick → stop-exit order on the wire", total) + "   (goal p99 ≤ 5 ms)")
    print(f"{'evaluate() alone (pure function)':<34} p50 {evaluate_us():.2f} µs")
    print(
        f"handler: exits_sent {stats['exits_sent']}, refused {stats['exits_refused']}, "
        f"errors {stats['errors']}"
    )


if __name__ == "__main__":
    main()
