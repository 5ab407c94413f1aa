"""Paper trading end to end, by itself: the whole stack on a fresh PostgreSQL database with the simulator
replaying 2025-01-15 at speed 60, automatic trading switched on, and what it did by the given exchange time.

    .venv/bin/python bench/paper_day.py [--runs 3] [--start 08:50] [--until 10:10] [--demo]

Each run: a fresh database and a unique REDIS_KEY_PREFIX (REDIS_URL's database, default 5), the risk
configuration's take-profit 1 % / stop −1 % (unless --demo), the opening breakout's top_n 10 (unless
--demo: the seeded configuration as is), then `POST /api/v1/system/start`; it prints the scans, the
signals by status, the orders by status and the closed trades at the end, and the engine's counters.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.core.stackcheck import sim_clock
from apps.core.stackrun import Stack, running_stack


def api(stack: Stack, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback only
        stack.url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Token {stack.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"{}")


COUNTS = """
from django.db.models import Count
from apps.strategy.models import Signal
from apps.strategy.scanner_models import ScanSnapshot
from apps.trades.models import Order, Trade
from apps.core.models import SystemStatus
import json
print(json.dumps({
  "scans": ScanSnapshot.objects.count(),
  "signals": dict(Signal.objects.values_list("status").annotate(n=Count("id"))),
  "signal_rows": list(Signal.objects.order_by("at").values_list("key", "status", "at", "risk_reasons")),
  "orders": dict(Order.objects.values_list("status").annotate(n=Count("id"))),
  "trades": Trade.objects.count(),
  "scan_news": dict(ScanSnapshot.objects.values_list("news").annotate(n=Count("id"))),
  "engine_stats": (SystemStatus.objects.filter(component="realtime").values_list("details", flat=True)
                   .first() or {}).get("handlers", {}).get("strategy.engine"),
}, default=str))
"""


def once(args: argparse.Namespace, run: int) -> dict:
    tag = uuid.uuid4().hex[:8]
    db = f"he2e_paper_{tag}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db], check=True)
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
        "REDIS_KEY_PREFIX": f"he2e-paper-{tag}:",
        "SECRET_KEY": "bench-secret-key-0123456789",
        "FIELD_ENCRYPTION_KEY": "s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI=",
    }
    started = time.monotonic()
    try:
        with running_stack(
            env, sim_date="2025-01-15", sim_start=args.start, sim_speed=args.speed
        ) as stack:
            green = time.monotonic() - started
            if not args.demo:
                api(stack, "PUT", "/api/v1/risk/config", {
                    "take_profit_pct": "1", "stop_loss_pct": "-1", "reason": "paper day",
                })  # fmt: skip
                api(stack, "PUT", "/api/v1/strategy/config", {
                    "strategy": "opening_breakout", "params": {"top_n": 10, "news_threshold": 50, **json.loads(args.params)},
                    "budget_krw": args.budget,
                    "reason": "paper day",
                })  # fmt: skip
            api(stack, "POST", "/api/v1/system/start", {"reason": "paper day"})
            until = args.until
            while True:
                now = sim_clock(stack.sim_port)
                if now is not None and now.strftime("%H:%M") >= until:
                    break
                time.sleep(2)
            counts = json.loads(stack.manage("shell", "-c", COUNTS).strip().splitlines()[-1])
            health = api(stack, "GET", "/api/v1/health")
            counts["engine"] = health.get("engine")
            counts["green_after_s"] = round(green, 1)
            log = stack.log_path.read_text(errors="replace")
            keep = Path(tempfile.gettempdir()) / f"paper-day-{tag}.log"
            keep.write_text(log)
            counts["log"] = str(keep)
            counts["db"] = db
    finally:
        if not args.keep_db:
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", db],
                check=False,
            )
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--start", default="08:50")
    parser.add_argument("--until", default="10:10")
    parser.add_argument("--speed", type=float, default=60)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--params", default="{}", help="more opening_breakout parameters (JSON)")
    parser.add_argument(
        "--budget", type=int, default=10_000_000, help="the breakout's budget (KRW)"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the run's database (he2e_paper_*)"
    )
    args = parser.parse_args()
    for run in range(args.runs):
        result = once(args, run)
        rows = result.pop("signal_rows")
        print(f"run {run + 1}: {json.dumps(result)}")
        for row in rows:
            print("   ", *row)


if __name__ == "__main__":
    main()
