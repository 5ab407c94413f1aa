"""Commit → browser push latency of /ws/live: p50/p95/p99 from a DB commit to a websocket client's receipt.

The production path, across processes: this process changes an order (or position) in a transaction and
queues the push with the code the books use (`order_update_after_commit`, `publish_after_commit` of a
`position_update`); after COMMIT the after-commit hook hands it to the live publisher thread
(apps.core.live), which sends it through the Redis channel layer to a real daphne serving
`stockagent.asgi:application`, whose LiveConsumer writes it to a websocket client (the `websockets`
library, logged in with a session cookie like a browser) running in this process. The clock starts when the
commit returns (an on_commit hook registered before the push's) and stops when the client has the frame.
One change at a time (the latency of one push, no queueing), then bursts of 20 changes to 20 different
orders (the time until each arrives). Goal: p99 ≤ 100 ms. Nothing is asserted.

    .venv/bin/python bench/live_push_latency.py [--count 300] [--keep]

Own database ``bench_live`` (dropped at the end unless --keep), Redis ``REDIS_URL`` (default db 4) with
``REDIS_KEY_PREFIX`` bench-live:, daphne on a free port of 127.0.0.1 (stopped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_live"
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_URL = BASE_URL.rsplit("/", 1)[0] + "/" + DB_NAME
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("REDIS_KEY_PREFIX", "bench-live:")

from _db import drop_database, ensure_database  # noqa: E402
from _stats import nearest_rank  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "stockagent.asgi:application",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit("daphne did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def session_cookie() -> str:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench-live")
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class Stamps:
    """Commit times by message key, written by the changing thread, read by the receiving loop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[str, float] = {}

    def mark(self, key: str) -> None:
        now = time.perf_counter()
        with self.lock:
            self.at[key] = now

    def take(self, key: str) -> float | None:
        with self.lock:
            return self.at.pop(key, None)


def change(orders: list[Any], positions: list[Any], stamps: Stamps, seq: int) -> list[str]:
    """One transaction per changed row; returns the keys whose pushes it queued."""
    from django.db import transaction

    from apps.core.live import publish_after_commit
    from apps.trades.models import Order, Position
    from apps.trades.services.state import order_update_after_commit

    keys = []
    for order in orders:
        key = f"order:{order.pk}:{seq}"
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(broker_order_no=str(seq))
            order.broker_order_no = str(seq)
            transaction.on_commit(lambda key=key: stamps.mark(key))
            order_update_after_commit(order)
        keys.append(key)
    for position in positions:
        key = f"position:{position.code}:{seq}"
        with transaction.atomic():
            Position.objects.filter(pk=position.pk).update(quantity=seq)
            transaction.on_commit(lambda key=key: stamps.mark(key))
            publish_after_commit(
                "position_update",
                {"code": position.code, "qty": seq, "pnl": None},
                key=position.code,
            )
        keys.append(key)
    return keys


def key_of(frame: dict[str, Any]) -> str | None:
    data = frame.get("data") or {}
    if frame.get("type") == "order_update":
        return f"order:{data['order_id']}:{data['broker_order_no']}"
    if frame.get("type") == "position_update":
        return f"position:{data['code']}:{data['qty']}"
    return None


async def run(port: int, cookie: str, count: int, burst: int) -> dict[str, list[float]]:
    import websockets
    from asgiref.sync import sync_to_async

    from apps.trades.models import Order, Position
    from apps.trades.tests.factories import OrderFactory, PositionFactory

    @sync_to_async
    def rows() -> tuple[list[Order], list[Position]]:
        Order.objects.all().delete()
        Position.objects.all().delete()
        orders = [OrderFactory(code=f"{i:06d}") for i in range(burst)]
        positions = [PositionFactory(code=f"{i:06d}") for i in range(burst)]
        return orders, positions

    orders, positions = await rows()
    stamps = Stamps()
    results: dict[str, list[float]] = {"order_update": [], "position_update": [], "burst": []}
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/live",
        additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
    ) as ws:
        await asyncio.sleep(0.5)  # the group join

        async def collect(keys: list[str], into: list[float], within: float = 10) -> None:
            wanted = set(keys)
            deadline = time.perf_counter() + within
            while wanted:
                frame = json.loads(
                    await asyncio.wait_for(ws.recv(), deadline - time.perf_counter())
                )
                got = time.perf_counter()
                key = key_of(frame)
                if key in wanted:
                    wanted.discard(key)
                    start = stamps.take(key)
                    if start is not None:
                        into.append((got - start) * 1000)

        seq = 1
        for kind, pick in (
            ("order_update", (orders[:1], [])),
            ("position_update", ([], positions[:1])),
        ):
            for _ in range(count):
                seq += 1
                keys = await asyncio.to_thread(change, *pick, stamps, seq)
                await collect(keys, results[kind])
                await asyncio.sleep(0.01)
        for _ in range(max(1, count // burst)):
            seq += 1
            task = asyncio.create_task(asyncio.to_thread(change, orders, [], stamps, seq))
            keys = [f"order:{o.pk}:{seq}" for o in orders]
            await collect(keys, results["burst"])
            await task
            await asyncio.sleep(0.05)
    return results


def report(label: str, ms: list[float]) -> None:
    print(
        f"{label:<34} n={len(ms):<5} p50={nearest_rank(ms, 0.5):6.1f} ms  "
        f"p95={nearest_rank(ms, 0.95):6.1f} ms  p99={nearest_rank(ms, 0.99):6.1f} ms  "
        f"max={max(ms):6.1f} ms  mean={statistics.fmean(ms):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="single pushes of each kind")
    parser.add_argument("--burst", type=int, default=20, help="orders changed per burst")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()

    ensure_database(DB_URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    port = free_port()
    daphne = start_daphne(port)
    try:
        cookie = session_cookie()
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results = asyncio.run(run(port, cookie, args.count, args.burst))
        report("order_update (one at a time)", results["order_update"])
        report("position_update (one at a time)", results["position_update"])
        report(f"order_update (bursts of {args.burst})", results["burst"])
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        stop(daphne)
        from apps.core.live import live_flush

        live_flush(2)
        if not args.keep:
            drop_database(DB_URL)
            print(f"dropped {DB_NAME}")


if __name__ == "__main__":
    main()
