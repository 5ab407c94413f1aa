"""REST requests/s the Kiwoom simulator answers on loopback.

The server runs in a child process (one core); the parent drives it with aiohttp keep-alive
connections (CONCURRENCY in flight) for a mix of TRs: ka10001 quote, ka10004 book, kt00018
balance, ka10032 ranking. The per-api-id rate limiter is switched off for the measurement.

    .venv/bin/python bench/sim_rest.py [--requests 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings")

CALLS = [
    ("stkinfo", "ka10001", {"stk_cd": "005930"}),
    ("mrkcond", "ka10004", {"stk_cd": "005930"}),
    ("acnt", "kt00018", {"qry_tp": "1", "dmst_stex_tp": "KRX"}),
    ("rkinfo", "ka10032", {"mrkt_tp": "000", "mang_stk_incls": "1", "stex_tp": "3"}),
]


async def serve(engine: str) -> None:
    from apps.broker.simulator.server import ServerConfig
    from apps.broker.simulator.testing import running_simulator

    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    if engine == "fake":
        from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

        ctx = running_simulator(FakeExchange(), config=cfg, start=START)
    else:
        # The run loop is live (speed 1 from 09:00): the market moves every 50 ms step while
        # requests are served, as in paper trading.
        ctx = running_simulator(config=cfg, speed=1.0)
    async with ctx as sim:
        print(json.dumps({"port": sim.port}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def drive(port: int, total: int, concurrency: int) -> tuple[int, float, dict[int, int]]:
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async with session.post(
            base + "/oauth2/token",
            json={"grant_type": "client_credentials", "appkey": "SIMULATOR-DEMO-APPKEY",
                  "secretkey": "SIMULATOR-DEMO-SECRET"},
        ) as r:  # fmt: skip
            token = (await r.json())["token"]
        counter = iter(range(total))

        async def worker() -> None:
            for i in counter:
                group, api_id, body = CALLS[i % len(CALLS)]
                async with session.post(
                    f"{base}/api/dostk/{group}",
                    json=body,
                    headers={"api-id": api_id, "authorization": f"Bearer {token}"},
                ) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total, time.perf_counter() - t0, statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--engine", choices=["real", "fake"], default="real")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    if args.serve:
        import django

        django.setup()
        asyncio.run(serve(args.engine))
        return
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--engine", args.engine],
        stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    port = json.loads(child.stdout.readline())["port"]
    try:
        n, seconds, statuses = asyncio.run(drive(port, args.requests, args.concurrency))
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(timeout=30)
    print(f"engine={args.engine} requests={n} concurrency={args.concurrency} statuses={statuses}")
    print(f"{n / seconds:,.0f} REST requests/s on loopback (server on one core; goal >= 1,000)")


if __name__ == "__main__":
    main()
