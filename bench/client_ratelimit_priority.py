"""Priority classes of the shared request budget: how long an order waits behind a saturating backfill.

Starts the Kiwoom simulator (real sockets, its server-side throttle set to the budget) and 2 backfill
processes, each with its own KiwoomRestClient and 4 tasks asking for daily charts (ka10081, class
CHART) as fast as the shared limiter lets them — the budget stays saturated. Meanwhile this process
places limit orders (kt10000, class ORDER) at random moments. Prints each class's wait for a slot
(p50/p99/max) and the order's wait in slots (goal: at most one slot, i.e. one interval of the budget).

    .venv/bin/python bench/client_ratelimit_priority.py [budget_per_s] [--seconds N]
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import sys
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _stats import nearest_rank
from redis.asyncio import Redis

from apps.broker.contract import OrderType, Side
from apps.broker.kiwoom.config import KiwoomConfig
from apps.broker.kiwoom.ratelimit import Priority
from apps.broker.kiwoom.rest import KiwoomRestClient

BACKFILL_PROCESSES = 2
BACKFILL_TASKS = 4
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


def _timed_limiter(client: KiwoomRestClient, waits: dict[Priority, list[float]]) -> None:
    """Record how long each acquire of the shared limiter took, per class."""
    acquire = client.limiter.acquire

    async def timed(priority: Priority = Priority.QUOTE) -> None:
        t0 = time.perf_counter()
        await acquire(priority)
        waits.setdefault(priority, []).append(time.perf_counter() - t0)

    client.limiter.acquire = timed  # type: ignore[method-assign]


def backfill(cfg: KiwoomConfig, seconds: float, ready: mp.Queue, go: Any, out: mp.Queue) -> None:  # type: ignore[type-arg]
    async def run() -> tuple[list[float], int]:
        waits: dict[Priority, list[float]] = {}
        done = 0

        async def loop(client: KiwoomRestClient) -> None:
            nonlocal done
            while time.time() < go.value + seconds:
                await client.daily_bars("005930", max_pages=1)
                done += 1

        async with KiwoomRestClient(cfg) as client:
            await client.tokens.get()
            _timed_limiter(client, waits)
            ready.put(os.getpid())
            while go.value == 0.0:  # noqa: ASYNC110 - a cross-process flag, not an asyncio one
                await asyncio.sleep(0.005)
            await asyncio.sleep(max(0.0, go.value - time.time()))
            await asyncio.gather(*(loop(client) for _ in range(BACKFILL_TASKS)))
        return waits.get(Priority.CHART, []), done

    out.put(asyncio.run(run()))


async def place_orders(
    cfg: KiwoomConfig, start_at: float, seconds: float
) -> tuple[list[float], int]:
    waits: dict[Priority, list[float]] = {}
    sent = 0
    async with KiwoomRestClient(cfg) as client:
        price = (await client.quote("005930")).price
        assert price is not None
        _timed_limiter(client, waits)
        await asyncio.sleep(max(0.0, start_at + 1.0 - time.time()))  # the backfill is running
        while time.time() < start_at + seconds - 1.0:
            await client.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, price)
            sent += 1
            await asyncio.sleep(random.uniform(0.3, 0.9))
    return waits.get(Priority.ORDER, []), sent


def measure(budget: float, seconds: float) -> None:
    from apps.broker.simulator.server import ServerConfig
    from apps.broker.simulator.testing import simulator_in_thread

    prefix = f"bench-priority:{uuid.uuid4().hex}"
    sim_cfg = ServerConfig(rate_limit_per_s=budget, rate_limit_burst=5, ping_interval_s=3600)
    with simulator_in_thread(config=sim_cfg) as sim:
        cfg = KiwoomConfig(
            app_key=sim.app_key,
            secret_key=sim.secret_key,
            account=sim.account,
            base_url=sim.base_url,
            ws_url=sim.ws_url,
            rate_query_per_sec=budget,
            redis_url=REDIS_URL,
            key_prefix=prefix,
        )
        ctx = mp.get_context("spawn")
        out, ready = ctx.Queue(), ctx.Queue()
        go = ctx.Value("d", 0.0)
        procs = [
            ctx.Process(target=backfill, args=(cfg, seconds, ready, go, out))
            for _ in range(BACKFILL_PROCESSES)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=120)
        start_at = time.time() + 0.5
        go.value = start_at
        order_waits, sent = asyncio.run(place_orders(cfg, start_at, seconds))
        results = [out.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join()
    asyncio.run(_cleanup(prefix))
    chart_waits = [w for r in results for w in r[0]]
    charts = sum(r[1] for r in results)
    interval = 1 / budget
    slots = [w / interval for w in order_waits]
    print(
        f"budget {budget:.1f}/s ({interval * 1000:.0f} ms a slot), {seconds:.0f}s, "
        f"{BACKFILL_PROCESSES} backfill processes x {BACKFILL_TASKS} tasks: "
        f"{charts} charts ({charts / seconds:.2f}/s), {sent} orders"
    )
    for name, waits in (("order (ORDER)", order_waits), ("backfill (CHART)", chart_waits)):
        print(
            f"  {name:18} wait for a slot: p50 {nearest_rank(waits, 0.5) * 1000:7.0f} ms  "
            f"p99 {nearest_rank(waits, 0.99) * 1000:7.0f} ms  max {max(waits, default=0) * 1000:7.0f} ms"
        )
    worst = max(slots, default=0.0)
    print(
        f"  order wait in slots: p50 {nearest_rank(slots, 0.5):.2f}  p99 {nearest_rank(slots, 0.99):.2f}  "
        f"max {worst:.2f}  (goal <= 1 slot: {'met' if worst <= 1.0 else 'NOT met'})"
    )


async def _cleanup(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def main() -> None:
    args = sys.argv[1:]
    seconds = 20.0
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i : i + 2]
    budgets = [float(a) for a in args] or [5.0]
    for budget in budgets:
        measure(budget, seconds)


if __name__ == "__main__":
    main()
