"""Pre-trade check latency (#14).

(a) The pure function `apps.risk.check.check(snapshot, intent)` on a realistic snapshot (5 positions,
6 open orders, every limit on, price limits and tick grid checked): an approved entry, a refused entry
(every reason collected) and an exit. Each call timed with `perf_counter_ns`; goal p99 ≤ 50 µs.

(b) For information, the locked path on PostgreSQL: one transaction with the per-account lock, the
snapshot (its queries counted) and the check (`apps.risk.services.pretrade.risk_check`), rolled back;
and the whole `order_create` of a limit buy (validation, exchange clock, the locked check, the order
row and its journal, the commit).

    .venv/bin/python bench/risk_check.py [--calls 200000] [--locked 500]

Uses its own database (``DATABASE_URL``, default ``bench_risk``, created if missing; its orders and
positions are emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_risk")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")

from _stats import nearest_rank  # noqa: E402

ACCOUNT = "5000000010"


def snapshot_and_intents():  # type: ignore[no-untyped-def]
    import krx
    from apps.risk.check import (
        InstrumentFlags,
        Intent,
        Limits,
        OpenOrder,
        PositionState,
        RiskState,
        Snapshot,
    )

    codes = ["005930", "000660", "035420", "051910", "068270"]
    positions = {
        c: PositionState(c, 100, 0, 5_000_000, 51_000 + i * 100) for i, c in enumerate(codes)
    }
    orders = tuple(
        OpenOrder(codes[i % 5], "buy" if i % 2 else "sell", 10, 50_000) for i in range(6)
    )
    snapshot = Snapshot(
        now=dt.datetime(2026, 3, 3, 10, 0, tzinfo=krx.KST),
        trading_day=dt.date(2026, 3, 3),
        session_close=dt.datetime(2026, 3, 3, 15, 30, tzinfo=krx.KST),
        opening_equity=100_000_000,
        opening_unrealized=0,
        realized_today=-300_000,
        positions=positions,
        open_orders=orders,
        entries_last_minute=2,
        state=RiskState.ACTIVE,
        switch_on=True,
        limits=Limits(weight_pct=Decimal(10), max_positions=8),
        instrument=InstrumentFlags("005930", base_price=50_000),
    )
    entry = Intent("005930", "buy", 10, 51_000, automatic=True)
    refused = Intent("005930", "buy", 1_000, 51_010, automatic=True)
    exit_ = Intent("005930", "sell", 50, 50_500, automatic=True)
    return snapshot, {"approved entry": entry, "refused entry": refused, "exit": exit_}


def bench_pure(calls: int) -> None:
    from apps.risk.check import check

    snapshot, intents = snapshot_and_intents()
    print(f"(a) pure check, {calls:,} calls each")
    for name, intent in intents.items():
        for _ in range(2_000):  # warm up
            check(snapshot, intent)
        samples = []
        clock = time.perf_counter_ns
        for _ in range(calls):
            t0 = clock()
            check(snapshot, intent)
            samples.append(clock() - t0)
        decision = check(snapshot, intent)
        print(
            f"    {name:15s} p50 {nearest_rank(samples, 0.50) / 1000:6.2f} µs   "
            f"p99 {nearest_rank(samples, 0.99) / 1000:6.2f} µs   "
            f"max {max(samples) / 1000:8.1f} µs   approved={decision.approved} "
            f"reasons={list(decision.codes)}"
        )


def setup_django() -> None:
    from order_latency import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.risk.testing import permissive_config, seed_base_price
    from apps.trades.models import Fill, Order, OrderTransition, Position, Trade

    Trade.objects.all().delete()
    Fill.objects.all().delete()
    OrderTransition.objects.all().delete()
    Order.objects.all().delete()
    Position.objects.all().delete()
    permissive_config()
    for code in ("005930", "000660", "035420", "051910", "068270"):
        seed_base_price(code, 50_000)
        Position.objects.create(
            account_no=ACCOUNT, code=code, quantity=100, cost_amount=5_000_000, current_price=51_000
        )


def bench_locked(n: int) -> None:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from apps.risk.services.pretrade import risk_check
    from apps.trades.models import Order
    from apps.trades.services import OrderIntent, order_create

    def locked() -> None:
        with transaction.atomic():
            risk_check(
                account_no=ACCOUNT,
                code="005930",
                side="buy",
                quantity=10,
                price=51_000,
                automatic=True,
            )
            transaction.set_rollback(True)

    for _ in range(50):
        locked()
    with CaptureQueriesContext(connection) as queries:
        locked()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        locked()
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"(b) locked path on PostgreSQL ({n} runs)")
    print(
        f"    lock + snapshot + check   p50 {nearest_rank(samples, 0.5):.3f} ms   "
        f"p99 {nearest_rank(samples, 0.99):.3f} ms   round trips {len(queries) - 2} (+ BEGIN/ROLLBACK)"
    )
    for q in queries.captured_queries:
        print("      ", " ".join(q["sql"].split())[:110])
    samples = []
    for _ in range(n):
        intent = OrderIntent(
            code="005930", side="buy", quantity=1, price=51_000, account_no=ACCOUNT, cause="signal"
        )
        t0 = time.perf_counter()
        order, _ = order_create(intent)
        samples.append((time.perf_counter() - t0) * 1000)
        # Never sent: end it, so the open orders stay a handful as in a session.
        Order.objects.filter(pk=order.pk).update(status="rejected")
    print(
        f"    order_create (commit incl.) p50 {nearest_rank(samples, 0.5):.3f} ms   "
        f"p99 {nearest_rank(samples, 0.99):.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--locked", type=int, default=500)
    args = parser.parse_args()
    bench_pure(args.calls)
    if args.locked:
        setup_django()
        from apps.core.models import RuntimeFlag

        RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
        bench_locked(args.locked)


if __name__ == "__main__":
    main()
