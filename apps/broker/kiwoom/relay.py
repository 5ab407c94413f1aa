"""Condition-search requests relayed to the process that holds the WebSocket.

Kiwoom allows one WebSocket session per app key: a Celery task that opened its own socket for a
30-second condition check would kick the realtime process off (SYSTEM R10001) every time. So the
process holding the long-lived socket also serves CNSRLST/CNSRREQ for everybody else over Redis:
it keeps an owner heartbeat key alive and answers requests pushed onto a Redis list. Callers use
the relay when an owner is alive and fall back to a short socket of their own when none is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

import orjson
from redis.asyncio import Redis

from apps.broker.backoff import backoff_delay

from . import errors

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 10  # seconds an owner stays "alive" without refreshing
# Blocking reads are cut into slices shorter than redis-py's default socket timeout (5 s in 8.x):
# a BLPOP longer than the socket timeout fails with a client-side TimeoutError.
BLPOP_SLICE = 2
OPS = ("conditions", "condition_search")


def _keys(key_prefix: str, app_key: str) -> tuple[str, str, str]:
    digest = hashlib.sha256(app_key.encode()).hexdigest()[:16]
    base = f"{key_prefix}:wsrelay:{digest}"
    return f"{base}:owner", f"{base}:requests", f"{base}:reply"


class RelayServer:
    """Runs beside a live KiwoomWebSocket and answers relayed condition-search requests."""

    def __init__(self, redis: Redis, ws: Any, key_prefix: str, app_key: str) -> None:
        self._redis = redis
        self._ws = ws
        self._owner, self._requests, self._reply = _keys(key_prefix, app_key)
        self._id = uuid.uuid4().hex
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.served = 0

    async def start(self) -> None:
        await self._redis.set(self._owner, self._id, ex=HEARTBEAT_TTL)
        self._tasks = [
            asyncio.create_task(self._heartbeat(), name="kiwoom-relay-heartbeat"),
            asyncio.create_task(self._serve(), name="kiwoom-relay"),
        ]

    async def close(self) -> None:
        # Cancelling redis-py in the middle of BLPOP can wedge the task; let the serve loop see
        # the flag at its next (≤1 s) poll instead, and cancel only as a last resort.
        self._stopping = True
        self._tasks[0].cancel()  # the heartbeat only sleeps between SETs
        _, pending = await asyncio.wait(self._tasks, timeout=3)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1)
        self._tasks = []
        with contextlib.suppress(Exception):
            if await self._redis.get(self._owner) == self._id.encode():
                await self._redis.delete(self._owner)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_TTL / 3)
            await self._redis.set(self._owner, self._id, ex=HEARTBEAT_TTL)

    async def _serve(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                item = await self._redis.blpop([self._requests], timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("condition relay: Redis read failed")
                failures += 1
                await asyncio.sleep(backoff_delay(failures, base=0.5, cap=10.0))
                continue
            failures = 0
            if item is None:
                continue
            request = orjson.loads(item[1])
            deadline = request.get("deadline")
            if isinstance(deadline, int | float) and time.time() > deadline:
                # The caller gave up waiting: do not spend rate-limit slots on an unread answer.
                log.warning("condition relay: dropped an expired %s request", request.get("op"))
                continue
            reply = await self._answer(request)
            self.served += 1
            key = f"{self._reply}:{request['id']}"
            await self._redis.rpush(key, orjson.dumps(reply))
            await self._redis.expire(key, 60)

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        try:
            if op == "conditions":
                return {"ok": True, "data": await self._ws.conditions_raw()}
            if op == "condition_search":
                return {"ok": True, "data": await self._ws.condition_search_raw(request["seq"])}
            raise errors.InvalidRequest(f"unknown relay op {op!r}")
        except errors.BrokerError as exc:
            return {
                "ok": False,
                "type": type(exc).__name__,
                "code": exc.code,
                "message": exc.message,
            }


async def relay_call(
    redis: Redis, key_prefix: str, app_key: str, op: str, wait_seconds: float, **args: str
) -> list[Any] | None:
    """Ask the socket owner; None when no owner is alive (the caller opens its own socket)."""
    owner, requests, reply = _keys(key_prefix, app_key)
    if not await redis.exists(owner):
        return None
    request_id = uuid.uuid4().hex
    deadline = time.time() + wait_seconds
    await redis.rpush(
        requests, orjson.dumps({"id": request_id, "op": op, "deadline": deadline, **args})
    )
    item = None
    while item is None:
        left = deadline - time.time()
        if left <= 0:
            raise errors.BrokerUnavailable(
                "the realtime process did not answer the relayed request"
            )
        item = await redis.blpop(
            [f"{reply}:{request_id}"], timeout=max(0.01, min(BLPOP_SLICE, left))
        )
    answer = orjson.loads(item[1])
    if answer.get("ok"):
        return list(answer.get("data") or [])
    cls = getattr(errors, str(answer.get("type")), errors.BrokerError)
    if not (isinstance(cls, type) and issubclass(cls, errors.BrokerError)):
        cls = errors.BrokerError
    if cls is errors.OrderRejected:
        raise errors.OrderRejected(answer.get("code") or "", answer.get("message") or "")
    raise cls(answer.get("message") or "", answer.get("code"))
