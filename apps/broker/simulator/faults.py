"""Runtime-switchable fault injection for the simulator.

Owns the switches tests flip to make the simulator misbehave the way the real broker can: added
latency, bursts of HTTP 429, 5xx answers, dropped WebSocket sessions, invalidated tokens and orders
that the exchange accepts but whose HTTP reply never arrives. The switches are flipped in-process
(`FaultController`) or over the admin endpoint `POST /_sim/faults` (see server.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

LOST_REPLY_MODES = ("close", "hang")


@dataclass
class FaultState:
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    # Counters: the next N matching REST calls get the fault, then it switches itself off.
    http_429: int = 0
    http_5xx: int = 0
    http_5xx_status: int = 503
    lost_order_replies: int = 0
    # "close" drops the TCP connection after the engine accepted the order (client sees a
    # disconnect); "hang" keeps the request open until the client gives up.
    lost_reply_mode: str = "close"
    # Restrict counters/latency to these api-ids (empty = every TR).
    api_ids: list[str] = field(default_factory=list)


class FaultController:
    """The live switches. Actions that touch sessions or tokens call back into the server."""

    def __init__(self, seed: int = 0) -> None:
        self.state = FaultState()
        self._rng = random.Random(seed)
        self.on_drop_ws: Callable[[str | None], int] | None = None
        self.on_invalidate_tokens: Callable[[str | None], int] | None = None

    # ------------------------------------------------------------------ switches
    def reset(self) -> None:
        self.state = FaultState()

    def set(self, **values: Any) -> FaultState:
        known = set(FaultState.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
        for name, value in values.items():
            setattr(self.state, name, _coerce(name, value))
        return self.state

    def snapshot(self) -> dict[str, Any]:
        return asdict(self.state)

    def drop_websockets(self, app_key: str | None = None) -> int:
        """Close live WebSocket sessions abruptly (all, or one app key's). Returns how many."""
        return self.on_drop_ws(app_key) if self.on_drop_ws else 0

    def invalidate_tokens(self, app_key: str | None = None) -> int:
        """Make every issued token answer 8005 from now on. Returns how many were revoked."""
        return self.on_invalidate_tokens(app_key) if self.on_invalidate_tokens else 0

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Admin-endpoint entry: switches plus the one-shot actions `drop_ws`/`invalidate_tokens`."""
        payload = dict(payload)
        result: dict[str, Any] = {}
        if payload.pop("reset", False):
            self.reset()
        drop = payload.pop("drop_ws", None)
        invalidate = payload.pop("invalidate_tokens", None)
        self.set(**payload)
        if drop:
            result["dropped_ws"] = self.drop_websockets(drop if isinstance(drop, str) else None)
        if invalidate:
            key = invalidate if isinstance(invalidate, str) else None
            result["invalidated_tokens"] = self.invalidate_tokens(key)
        result["faults"] = self.snapshot()
        return result

    # ------------------------------------------------------------------ consulted per request
    def _matches(self, api_id: str) -> bool:
        return not self.state.api_ids or api_id in self.state.api_ids

    async def delay(self, api_id: str) -> None:
        s = self.state
        if (s.latency_ms or s.latency_jitter_ms) and self._matches(api_id):
            jitter = self._rng.uniform(0, s.latency_jitter_ms) if s.latency_jitter_ms else 0.0
            await asyncio.sleep((s.latency_ms + jitter) / 1000)

    def take_429(self, api_id: str) -> bool:
        if self.state.http_429 > 0 and self._matches(api_id):
            self.state.http_429 -= 1
            return True
        return False

    def take_5xx(self, api_id: str) -> int | None:
        if self.state.http_5xx > 0 and self._matches(api_id):
            self.state.http_5xx -= 1
            return self.state.http_5xx_status
        return None

    def take_lost_reply(self, api_id: str) -> str | None:
        if self.state.lost_order_replies > 0 and self._matches(api_id):
            self.state.lost_order_replies -= 1
            return self.state.lost_reply_mode
        return None


def _coerce(name: str, value: Any) -> Any:
    if name == "api_ids":
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value or []]
    if name == "lost_reply_mode":
        if value not in LOST_REPLY_MODES:
            raise ValueError(f"lost_reply_mode must be one of {LOST_REPLY_MODES}")
        return value
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0")
    return number
