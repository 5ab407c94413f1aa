"""Shared fixtures for the Kiwoom client tests: the simulator on port 0 and a client bound to it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

from redis.asyncio import Redis

from apps.broker.kiwoom.config import KiwoomConfig
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, running_simulator
from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


def unique_prefix() -> str:
    return f"{os.environ.get('REDIS_KEY_PREFIX', '')}test-client:{uuid.uuid4().hex}"


def client_config(sim: SimHandle, **overrides: object) -> KiwoomConfig:
    cfg = KiwoomConfig(
        app_key=sim.app_key,
        secret_key=sim.secret_key,
        account=sim.account,
        base_url=sim.base_url,
        ws_url=sim.ws_url,
        rate_query_per_sec=200.0,
        timeout_seconds=5.0,
        redis_url=REDIS_URL,
        key_prefix=unique_prefix(),
        throttle_backoff_base=0.02,
    )
    return replace(cfg, **overrides)  # type: ignore[arg-type]


async def cleanup_prefix(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def fake_simulator(**config: object) -> AsyncIterator[SimHandle]:
    cfg = ServerConfig(**{"rate_limit_per_s": None, **config})  # type: ignore[arg-type]
    async with running_simulator(FakeExchange(), config=cfg, start=START) as handle:
        yield handle
