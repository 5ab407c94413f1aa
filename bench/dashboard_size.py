"""Dashboard at real size: p50/p95 of the list pages and list APIs with 100,000 trades and 1,000,000 orders.

Seeds its own database (``bench_size`` on the server of ``DATABASE_URL``) with INSERT ... SELECT over
generate_series (about a minute on two cores): 1,000,000 orders over ~350 days and 500 codes (mostly filled,
some cancelled/rejected, a few open), one fill per filled order, 100,000 trades (each the trade of a filled
sell order), 30 open positions, 20,000 strategy signals, and the active account with 100,000 balance
snapshots and 100,000 condition hits (the overview's rows). Then it requests each page/API through Django's
test client (the whole middleware stack, logged in as a trader) and prints p50/p95/max and the number of
SQL queries per request. Goal: p95 ≤ 100 ms. Nothing is asserted.

    .venv/bin/python bench/dashboard_size.py                  # seed, measure, drop the database
    .venv/bin/python bench/dashboard_size.py --keep           # keep (and next time reuse) the seeded database
    .venv/bin/python bench/dashboard_size.py --explain        # also print EXPLAIN ANALYZE of the list queries

Options: --orders N, --trades N, --requests N (per URL, default 50). Redis: ``REDIS_URL`` (default db 4) with
``REDIS_KEY_PREFIX`` bench-size:; the database's name: ``BENCH_SIZE_DB`` (default bench_size). The overview page `/` probes the components (broker, Redis, workers): its
figure includes those probes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_SIZE_DB", "bench_size")  # another name: two runs side by side
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_URL = BASE_URL.rsplit("/", 1)[0] + "/" + DB_NAME
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("REDIS_KEY_PREFIX", "bench-size:")
os.environ.setdefault("API_THROTTLE_USER", "1000000/min")
os.environ.setdefault("KIWOOM_ACCOUNT", "5555555511")
ACCOUNT = os.environ["KIWOOM_ACCOUNT"]

from _db import drop_database, ensure_database  # noqa: E402
from _stats import nearest_rank  # noqa: E402

URLS = [
    "/",
    "/trades/",
    "/trades/?sort=-pnl",
    "/trades/?page=150",
    "/api/v1/trades",
    "/api/v1/trades?sort=pnl_pct&page_size=200",
    "/api/v1/trades?code=001000",
    "/orders/",
    "/orders/?status=open",
    "/api/v1/orders",
    "/api/v1/orders?code=001000",
    "/api/v1/orders?status=filled&side=sell&page=150",
    "/api/v1/fills",
    "/api/v1/fills?code=001002",
    "/admin/trades/order/",
    "/admin/trades/fill/",
    "/positions/",
    "/api/v1/account/positions",
]


def insert_select(model: Any, count: int, exprs: dict[str, str], where: str = "") -> None:
    """INSERT INTO model's table SELECT one row per g in 1..count: `exprs` gives a column's SQL (over g);
    every other column gets NULL when nullable, else its Python default as a parameter."""
    from django.db import connection

    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if (
            field.primary_key
            and field.name not in exprs
            and field.get_internal_type().endswith("AutoField")
        ):
            continue  # the sequence numbers it
        columns.append(connection.ops.quote_name(field.column))
        if field.name in exprs:
            values.append(exprs[field.name])
        elif field.null:
            values.append("NULL")
        else:
            values.append("%s")
            params.append(field.get_db_prep_value(field.get_default(), connection))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608 - bench's own SQL
        f"SELECT {', '.join(values)} FROM generate_series(1::bigint, {count}) AS g {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def seed(n_orders: int, n_trades: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from apps.strategy.models import Signal
    from apps.trades.models import Fill, Order, Position, Trade

    started = time.perf_counter()
    code = "lpad(((g * 7919) %% 500 * 2 + 1000)::text, 6, '0')"
    created = f"(now() - ({n_orders} - g) * interval '30 seconds')"
    status = (
        f"CASE WHEN g > {n_orders} - 20 THEN 'accepted' WHEN g %% 20 = 0 THEN 'cancelled' "
        "WHEN g %% 20 = 1 THEN 'rejected' ELSE 'filled' END"
    )
    filled = f"(g <= {n_orders} - 20 AND g %% 20 NOT IN (0, 1))"
    qty = "(10 + g %% 90)"
    price = "(10000 + (g %% 500) * 100)"
    insert_select(
        Order,
        n_orders,
        {
            "id": "md5('o' || g)::uuid",
            "account_no": f"'{ACCOUNT}'",
            "code": code,
            "name": "'종목' || ((g * 7919) %% 500)",
            "side": "CASE WHEN g %% 2 = 0 THEN 'sell' ELSE 'buy' END",
            "quantity": qty,
            "price": price,
            "filled_quantity": f"CASE WHEN {filled} THEN {qty} ELSE 0 END",
            "filled_amount": f"CASE WHEN {filled} THEN {qty} * {price} ELSE 0 END",
            "avg_fill_price": f"CASE WHEN {filled} THEN {price} END",
            "commission": f"CASE WHEN {filled} THEN {qty} * {price} / 6667 ELSE 0 END",
            "status": status,
            "broker_order_no": "g::text",
            "strategy_tag": (
                "CASE g %% 3 WHEN 0 THEN 'opening_breakout' WHEN 1 THEN 'vwap_reversion' ELSE '' END"
            ),
            "cause": "CASE WHEN g %% 3 = 2 THEN 'user' ELSE 'signal' END",
            "created_at": created,
            "submitted_at": created,
            "accepted_at": created,
            "finished_at": f"CASE WHEN {filled} THEN {created} + interval '2 seconds' END",
            "updated_at": created,
        },
    )
    print(f"  orders   {n_orders:>9,}  {time.perf_counter() - started:6.1f} s", flush=True)
    insert_select(
        Fill,
        n_orders,
        {
            "order": "md5('o' || g)::uuid",
            "code": code,
            "cum_quantity": qty,
            "quantity": qty,
            "price": price,
            "amount": f"{qty} * {price}",
            "cum_amount": f"{qty} * {price}",
            "execution_no": "'E' || g",
            "source": "'realtime'",
            "commission": f"{qty} * {price} / 6667",
            "executed_at": f"{created} + interval '2 seconds'",
            "created_at": f"{created} + interval '2 seconds'",
        },
        where=f"WHERE {filled}",
    )
    print(
        f"  fills    {Fill.objects.count():>9,}  {time.perf_counter() - started:6.1f} s", flush=True
    )
    # Trade k is the trade of sell order n - 2k (the newest sells; the unfilled ones leave it orderless).
    sell = f"({n_orders} - 2 * g)"
    sell_filled = f"({sell} <= {n_orders} - 20 AND {sell} %% 20 NOT IN (0, 1))"
    exit_time = "(now() - (2 * g) * interval '30 seconds')"
    pnl = "((g * 7919) %% 200001 - 100000)"
    insert_select(
        Trade,
        n_trades,
        {
            "id": "md5('t' || g)::uuid",
            "account_no": f"'{ACCOUNT}'",
            "date": f"({exit_time} AT TIME ZONE 'Asia/Seoul')::date",
            "code": code.replace("g", sell),
            "name": f"'종목' || (({sell} * 7919) %% 500)",
            "side": "'buy'",
            "entry_time": f"{exit_time} - interval '40 minutes'",
            "exit_time": exit_time,
            "entry_price": "10000",
            "exit_price": f"10000 + {pnl} / 100",
            "quantity": "100",
            "entry_amount": "1000000",
            "exit_amount": f"1000000 + {pnl}",
            "pnl": pnl,
            "pnl_pct": f"{pnl}::numeric / 10000",
            "strategy_tag": "CASE g %% 2 WHEN 0 THEN 'opening_breakout' ELSE 'vwap_reversion' END",
            "exit_order": f"CASE WHEN {sell_filled} THEN md5('o' || {sell})::uuid END",
            "closed_position": "true",
            "created_at": exit_time,
            "updated_at": exit_time,
        },
    )
    print(f"  trades   {n_trades:>9,}  {time.perf_counter() - started:6.1f} s", flush=True)
    insert_select(
        Position,
        30,
        {
            "account_no": f"'{ACCOUNT}'",
            "code": code,
            "quantity": "100",
            "avg_price": "10000",
            "cost_amount": "1000000",
            "current_price": "10100",
            "entry_time": "now()",
            "updated_at": "now()",
        },
    )
    n_signals = min(20_000, n_trades)
    insert_select(
        Signal,
        n_signals,
        {
            "key": "'bench-' || g",
            "strategy": "'opening_breakout'",
            "reason": "'bench'",
            "order": f"CASE WHEN g %% 2 = 0 AND {sell_filled} THEN md5('o' || {sell})::uuid END",
            "created_at": "now() - (2 * g) * interval '30 seconds'",
            "code": code,
            "day": f"(({exit_time} AT TIME ZONE 'Asia/Seoul'))::date",
            "side": "CASE WHEN g %% 2 = 0 THEN 'sell' ELSE 'buy' END",
            "status": "'accepted'",
            "at": "now() - (2 * g) * interval '30 seconds'",
            "account_no": f"'{ACCOUNT}'",
        },
    )
    seed_account()
    user_model = get_user_model()
    user = user_model.objects.create_user("bench", password="bench-size-password")
    user.groups.add(Group.objects.get_or_create(name="trader")[0])
    user.is_superuser = user.is_staff = True
    user.save()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # the visibility map too: index-only scans
    print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)


SNAPSHOTS = (
    100_000  # one every five minutes over ~350 days: the overview's summary and equity curve
)
CONDITION_EVENTS = 100_000  # condition hits, one every five minutes: the overview's feed


def seed_account() -> None:
    """The active broker account with its balance snapshots, and condition hits (what the overview
    reads besides orders, fills, positions and signals)."""
    from django.db import connection

    from apps.accounts.models import BalanceSnapshot, BrokerAccount
    from apps.conditions.models import Condition, ConditionEvent

    started = time.perf_counter()
    account = BrokerAccount.objects.create(account_no=ACCOUNT, label="bench", is_active=True)
    at = "(now() - g * interval '5 minutes')"
    assets = "(100000000 + (g * 7919) %% 2000001 - 1000000)"
    insert_select(
        BalanceSnapshot,
        SNAPSHOTS,
        {
            "account": str(account.pk),
            "taken_at": at,
            "source": "'schedule'",
            "cash": "50000000",
            "d2_cash": "50000000",
            "orderable": "50000000",
            "total_purchase": "49000000",
            "total_evaluation": f"{assets} - 50000000",
            "total_profit_loss": f"{assets} - 99000000",
            "estimated_assets": assets,
            "day_profit_loss": f"{assets} - 100000000",
        },
    )
    condition = Condition.objects.create(account=ACCOUNT, seq="000", name="bench")
    insert_select(
        ConditionEvent,
        CONDITION_EVENTS,
        {
            "condition": str(condition.pk),
            "code": "lpad(((g * 7919) %% 500 * 2 + 1000)::text, 6, '0')",
            "name": "'종목' || ((g * 7919) %% 500)",
            "kind": "CASE WHEN g %% 2 = 0 THEN 'entry' ELSE 'exit' END",
            "at": at,
            "recorded_at": at,
            "price": "(10000 + (g %% 500) * 100)",
            "source": "'realtime'",
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_balancesnapshot")
        cursor.execute("VACUUM ANALYZE conditions_conditionevent")
    print(
        f"  account, {SNAPSHOTS:,} balance snapshots, {CONDITION_EVENTS:,} condition hits "
        f"{time.perf_counter() - started:6.1f} s",
        flush=True,
    )


def is_seeded(n_orders: int, n_trades: int) -> bool:
    from apps.trades.models import Order, Trade

    try:
        return Order.objects.count() >= n_orders and Trade.objects.count() >= n_trades
    except Exception:
        return False


def explain() -> None:
    from apps.trades import listing

    cases = {
        "trades page 1": listing.trades_filtered({}),
        "trades -pnl": listing.trades_filtered({"sort": "-pnl"}),
        "trades code": listing.trades_filtered({"code": "001000"}),
        "orders page 1": listing.orders_filtered({}),
        "orders open": listing.orders_filtered({"status": "open"}),
        "orders code": listing.orders_filtered({"code": "001000"}),
        "fills page 1": listing.fills_filtered({}),
    }
    for label, qs in cases.items():
        print(f"--- {label}")
        print(qs[:50].explain(analyze=True))
        print(f"--- {label} (capped count)")
        print(qs.order_by()[:10_001].values("pk").explain(analyze=True).splitlines()[0])
    for label, qs in overview_queries().items():
        print(f"--- {label}")
        print(qs.explain(analyze=True))


def overview_queries() -> dict[str, Any]:
    """The overview's reads that grow with the data (the rest read a row or a handful)."""
    from apps.accounts.models import BalanceSnapshot, BrokerAccount
    from apps.broker.backends import exchange_now
    from apps.conditions.models import ConditionEvent
    from apps.core.overview import CURVE_POINTS, FEED_SIZE, day_start
    from apps.strategy.models import Signal
    from apps.trades.models import Fill

    start = day_start(exchange_now())
    account = BrokerAccount.objects.filter(is_active=True).first()
    return {
        "overview balance": BalanceSnapshot.objects.filter(account=account).order_by("-taken_at")[
            :1
        ],
        "overview curve": BalanceSnapshot.objects.filter(account=account, taken_at__gte=start)
        .order_by("-taken_at")
        .values_list("taken_at", "estimated_assets")[:CURVE_POINTS],
        "overview signals": Signal.objects.filter(day=start.date()).order_by("-at", "-id")[
            :FEED_SIZE
        ],
        "overview fills": Fill.objects.filter(order__account_no=ACCOUNT, executed_at__gte=start)
        .select_related("order")
        .order_by("-executed_at", "-id")[:FEED_SIZE],
        "overview conditions": ConditionEvent.objects.filter(at__gte=start)
        .select_related("condition")
        .order_by("-at", "-id")[:FEED_SIZE],
        "overview last fill": Fill.objects.filter(order__account_no=ACCOUNT)
        .order_by("-executed_at")
        .values_list("executed_at", flat=True)[:1],
    }


class QueryClock:
    """Counts the SQL statements of a request and the time spent in them (a connection execute wrapper)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - t0


def measure(urls: list[str], requests: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    print(
        f"{'url':<48} {'status':>6} {'queries':>7} {'sql':>7} {'p50':>8} {'p95':>8} {'max':>8} "
        f"{'mean':>8}"
    )
    for url in urls:
        for _ in range(3):  # warm-up: templates, connections, caches
            client.get(url)
        times: list[float] = []
        clock = QueryClock()
        with connection.execute_wrapper(clock):
            for _ in range(requests):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
        print(
            f"{url:<48} {response.status_code:>6} {clock.count / requests:>7.0f} "
            f"{clock.seconds * 1000 / requests:5.1f}ms "
            f"{nearest_rank(times, 0.5):6.1f}ms {nearest_rank(times, 0.95):6.1f}ms "
            f"{max(times):6.1f}ms {statistics.fmean(times):6.1f}ms",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded database for the next run"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of the list queries"
    )
    parser.add_argument("--url", action="append", help="measure only these URLs (repeatable)")
    args = parser.parse_args()
    if args.trades * 2 > args.orders:
        parser.error("--orders must be at least twice --trades (each trade has its own sell order)")

    created = ensure_database(DB_URL)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    try:
        call_command("migrate", verbosity=0)
        if created or not is_seeded(args.orders, args.trades):
            if not created:
                drop_database(DB_URL)
                ensure_database(DB_URL)
                call_command("migrate", verbosity=0)
            print(f"seeding {DB_NAME}: {args.orders:,} orders, {args.trades:,} trades", flush=True)
            seed(args.orders, args.trades)
        else:
            print(f"reusing {DB_NAME} (seeded)")
            from apps.accounts.models import BrokerAccount

            if not BrokerAccount.objects.exists():  # seeded before the overview's rows were
                seed_account()
        if args.explain:
            explain()
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        measure(args.url or URLS, args.requests)
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:
            drop_database(DB_URL)
            print(f"dropped {DB_NAME}")


if __name__ == "__main__":
    main()
