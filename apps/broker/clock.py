"""The exchange's clock: the wall clock, or the bundled simulator's clock.

The simulator can replay a past day or run faster than real time (`kiwoom_sim --date ... --speed 60`, the
night demo). Jobs that ask "is the market open?" (the 30-second condition check, the scanner) must ask the
exchange they talk to, so with the simulator they read its clock from `GET /_sim/clock`. The offset is cached
for a few seconds; when the simulator does not answer, the wall clock is used.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings

log = logging.getLogger(__name__)

_CACHE_SECONDS = 5.0
_lock = threading.Lock()
_cached: tuple[float, datetime, float, float] | None = (
    None  # (monotonic, sim time, wall epoch, speed)
)


def _sim_clock() -> tuple[datetime, float] | None:
    url = settings.KIWOOM_BASE_URL.rstrip("/") + "/_sim/clock"
    try:
        response = httpx.get(url, timeout=1.0)
        body = response.json()
        moment = datetime.fromisoformat(str(body["sim_time"]))
        speed = float(body.get("speed") or 1.0)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        log.debug("simulator clock unavailable (%s); using the wall clock", type(exc).__name__)
        return None
    if moment.tzinfo is None:
        return None
    return moment, speed


def exchange_now() -> datetime:
    """The current time at the exchange (aware)."""
    return exchange_clock()[0]


def exchange_clock() -> tuple[datetime, float]:
    """The current time at the exchange (aware) and how fast that clock runs against the wall clock
    (1.0 for the real exchange; the simulator's speed otherwise), so a page can keep it ticking."""
    global _cached
    wall = datetime.now(UTC)
    if not getattr(settings, "KIWOOM_USE_SIMULATOR", False):
        return wall, 1.0
    with _lock:
        mono = time.monotonic()
        if _cached is None or mono - _cached[0] > _CACHE_SECONDS:
            found = _sim_clock()
            if found is None:
                _cached = None
                return wall, 1.0
            _cached = (mono, found[0], wall.timestamp(), found[1])
        _, sim, wall_then, speed = _cached
    return sim + timedelta(seconds=(wall.timestamp() - wall_then) * speed), speed


def reset_cache() -> None:
    global _cached
    with _lock:
        _cached = None
