"""Shared Redis rate limiter: throughput of 4 processes against one budget, and limit errors.

Starts the Kiwoom simulator (real sockets, its server-side throttle set to the same budget, per
api-id, burst 5) and 4 worker processes, each with its own KiwoomRestClient sharing one Redis
limiter and one token. Every worker sends ka10001 quotes as fast as the limiter lets it for a fixed
window. Prints requests/s achieved as a share of the budget and the throttle replies seen.

    .venv/bin/python bench/client_ratelimit.py [budget_per_s ...] [--seconds N]
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import sys
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from redis.asyncio import Redis

from apps.broker.kiwoom.config import KiwoomConfig
from apps.broker.kiwoom.errors import RateLimited
from apps.broker.kiwoom.rest import KiwoomRestClient

WORKERS = 4
# Requests each process keeps in flight (a Celery worker with concurrency 2, say).
TASKS = 2
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


def worker(cfg: KiwoomConfig, seconds: float, ready: mp.Queue, go: Any, out: mp.Queue) -> None:  # type: ignore[type-arg]
    async def run() -> tuple[list[float], int, int, list[float]]:
        stamps: list[float] = []
        latencies: list[float] = []
        errors = 0

        async def loop(client: KiwoomRestClient) -> None:
            nonlocal errors
            while time.time() < go.value + seconds:
                sent = time.time()
                try:
                    await client.quote("005930")
                    stamps.append(time.time())
                    latencies.append(time.time() - sent)
                except RateLimited:
                    errors += 1

        async with KiwoomRestClient(cfg) as client:
            await client.tokens.get()
            ready.put(os.getpid())
            while go.value == 0.0:  # noqa: ASYNC110 - a cross-process flag, not an asyncio one
                await asyncio.sleep(0.005)
            await asyncio.sleep(max(0.0, go.value - time.time()))
            await asyncio.gather(*(loop(client) for _ in range(TASKS)))
            return stamps, client.throttled, errors, latencies

    out.put(asyncio.run(run()))


def measure(budget: float, seconds: float) -> None:
    from apps.broker.simulator.server import ServerConfig
    from apps.broker.simulator.testing import simulator_in_thread

    prefix = f"bench-ratelimit:{uuid.uuid4().hex}"
    sim_cfg = ServerConfig(rate_limit_per_s=budget, rate_limit_burst=5, ping_interval_s=3600)
    with simulator_in_thread(config=sim_cfg) as sim:
        cfg = KiwoomConfig(
            app_key=sim.app_key,
            secret_key=sim.secret_key,
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
            ctx.Process(target=worker, args=(cfg, seconds, ready, go, out)) for _ in range(WORKERS)
        ]
        for p in procs:
            p.start()
        for _ in procs:  # every worker has imported, connected and fetched the shared token
            ready.get(timeout=120)
        start_at = time.time() + 0.5
        end_at = start_at + seconds
        go.value = start_at
        results = [out.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join()
    asyncio.run(_cleanup(prefix))
    stamps = sorted(t for r in results for t in r[0])
    in_window = [t for t in stamps if start_at <= t <= end_at]
    throttled = sum(r[1] for r in results)
    errors = sum(r[2] for r in results)
    rate = len(in_window) / seconds
    per_worker = ", ".join(str(len(r[0])) for r in results)
    latencies = sorted(x for r in results for x in r[3])
    median = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    print(
        f"budget {budget:>5.1f}/s  {WORKERS} processes x {TASKS} tasks  {seconds:.0f}s: "
        f"{rate:6.2f} req/s = {rate / budget:6.1%} of budget; throttle replies {throttled}, "
        f"limit errors {errors}  (per process: {per_worker}; median call incl. wait {median:.0f} ms)"
    )


async def _cleanup(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def main() -> None:
    args = sys.argv[1:]
    seconds = 10.0
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i : i + 2]
    budgets = [float(a) for a in args] or [5.0, 20.0]
    for budget in budgets:
        measure(budget, seconds)


if __name__ == "__main__":
    main()
