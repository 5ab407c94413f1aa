"""REAL frames/s the Kiwoom simulator pushes over WebSocket on one core.

The server runs in a child process (one asyncio thread = one core); the parent opens SESSIONS
WebSocket clients (one app key each), registers 0B for CODES stocks, and the server publishes
TICKS synthetic Tick events through the real path (adapter FID encoding -> orjson -> per-session
queue -> aiohttp send). Clients use aiohttp (C frame reader) so they keep up. Printed:
server-side push rate and client-side receive rate.

    .venv/bin/python bench/sim_ws_push.py [--ticks 40000] [--sessions 4] [--codes 50]
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


def make_ticks(n: int, codes: list[str]) -> list:
    from apps.broker.simulator.tests.protocol_fake import FakeExchange

    fake = FakeExchange()
    base = fake.tick("005930")
    from dataclasses import replace

    return [replace(base, code=codes[i % len(codes)], volume=1 + i % 97) for i in range(n)]


async def serve(args: argparse.Namespace) -> None:
    from apps.broker.simulator.server import Credential, ServerConfig
    from apps.broker.simulator.testing import running_simulator
    from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

    creds = tuple(
        Credential(f"BENCH-{i}", f"SECRET-{i}", f"50000000{i:02d}") for i in range(args.sessions)
    )
    codes = [f"{i:06d}" for i in range(args.codes)]
    ticks = make_ticks(args.ticks, codes)
    cfg = ServerConfig(credentials=creds, rate_limit_per_s=None, ping_interval_s=3600,
                       ws_queue_limit=10_000_000)  # fmt: skip
    async with running_simulator(FakeExchange(), config=cfg, start=START) as sim:
        print(json.dumps({"port": sim.port}), flush=True)
        hub = sim.server.hub
        while sum(len(v) for v in hub.subs.values()) < args.sessions * args.codes:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        sessions = list(hub.sessions)
        t0 = time.perf_counter()
        before = hub.frames_pushed
        chunk = 500
        for i in range(0, len(ticks), chunk):
            sim.server.market.publish(ticks[i : i + chunk], hub)
            await asyncio.sleep(0)  # let the writers run, as the run loop does between steps
        while any(not s.queue.empty() for s in sessions):  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - t0
        pushed = hub.frames_pushed - before
        print(json.dumps({"server_frames": pushed, "server_seconds": elapsed}), flush=True)
        await asyncio.sleep(1.0)


async def clients(args: argparse.Namespace, port: int) -> tuple[int, float]:
    # aiohttp's C frame reader keeps the client side from being the bottleneck.
    import aiohttp

    expected = args.ticks
    counts = [0] * args.sessions
    started = [0.0]
    base = f"http://127.0.0.1:{port}"

    async def one(i: int, session: aiohttp.ClientSession) -> None:
        async with session.post(
            base + "/oauth2/token",
            json={"grant_type": "client_credentials", "appkey": f"BENCH-{i}",
                  "secretkey": f"SECRET-{i}"},
        ) as r:  # fmt: skip
            tok = (await r.json())["token"]
        async with session.ws_connect(base + "/api/dostk/websocket", max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"trnm": "LOGIN", "token": tok}))
            await ws.receive()
            codes = [f"{k:06d}" for k in range(args.codes)]
            await ws.send_str(json.dumps({"trnm": "REG", "grp_no": "1", "refresh": "1",
                                          "data": [{"item": codes, "type": ["0B"]}]}))  # fmt: skip
            await ws.receive()
            while counts[i] < expected:
                msg = await ws.receive()
                if not started[0]:
                    started[0] = time.perf_counter()
                if '"REAL"' in msg.data:
                    counts[i] += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(i, session) for i in range(args.sessions)))
    return sum(counts), time.perf_counter() - started[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=40_000)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--codes", type=int, default=50)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    if args.serve:
        import django

        django.setup()
        asyncio.run(serve(args))
        return
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--ticks", str(args.ticks), "--sessions",
         str(args.sessions), "--codes", str(args.codes)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert child.stdout is not None
    port = json.loads(child.stdout.readline())["port"]
    received, client_seconds = asyncio.run(clients(args, port))
    server = json.loads(child.stdout.readline())
    child.wait(timeout=30)
    rate = server["server_frames"] / server["server_seconds"]
    print(f"sessions={args.sessions} codes={args.codes} ticks={args.ticks}")
    print(f"server pushed {server['server_frames']} REAL 0B frames in "
          f"{server['server_seconds']:.2f}s = {rate:,.0f} frames/s (one core; goal >= 20,000)")  # fmt: skip
    print(f"clients received {received} frames in {client_seconds:.2f}s = "
          f"{received / client_seconds:,.0f} frames/s")  # fmt: skip


if __name__ == "__main__":
    main()
