"""The exchange's clock, chosen explicitly: the wall clock, or the bundled simulator's clock.

The simulator can replay a past day or run faster than real time (`kiwoom_sim --date ... --speed 60`, the
night demo). Jobs that ask "is the market open?" (the 30-second condition check, the scanner) must ask the
exchange they talk to. Two clocks share one small contract (`ExchangeClock.now()`):

- `WallClock`: the machine's clock (aware UTC; KST is a display concern, see `krx.KST`) — the real and the
  mock Kiwoom hosts run on it;
- `SimulatorClock(base_url)`: reads `GET /_sim/clock` and extrapolates with the simulator's speed; the
  reading is cached for a few seconds; when the simulator does not answer, the wall clock stands in (logged
  at debug level, and the next call asks again).

`exchange_clock()` returns the clock the settings name (`KIWOOM_USE_SIMULATOR`, `KIWOOM_BASE_URL`);
`exchange_now()` is its `now()`. Code that must not depend on settings (tests, benches, a backtest) builds
the clock it wants and passes it, or passes the moment itself: the `krx` calendar functions take the moment
as a required argument.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from django.conf import settings

log = logging.getLogger(__name__)

SIM_CLOCK_CACHE_SECONDS = 5.0


class ExchangeClock(Protocol):
    def now(self) -> datetime:
        """The current time at the exchange (aware)."""
        ...

    def reading(self) -> tuple[datetime, float]:
        """The current time and how fast this clock runs against the wall clock (1.0 for the real
        exchange, the simulator's speed otherwise), so a page can keep it ticking."""
        ...

    def known_reading(self) -> tuple[datetime, float] | None:
        """As `reading`, but None when the exchange's time is not known (never a stand-in)."""
        ...


class WallClock:
    """The machine's clock: the exchange's time for the real and the mock Kiwoom hosts."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def reading(self) -> tuple[datetime, float]:
        return datetime.now(UTC), 1.0

    def known_reading(self) -> tuple[datetime, float] | None:
        return self.reading()


class SimulatorClock:
    """The bundled simulator's clock, read from `GET /_sim/clock` and extrapolated at its speed."""

    def __init__(
        self, base_url: str, cache_seconds: float = SIM_CLOCK_CACHE_SECONDS, timeout: float = 1.0
    ) -> None:
        self.url = base_url.rstrip("/") + "/_sim/clock"
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._lock = threading.Lock()
        # (monotonic when read, simulator time then, wall epoch then, speed)
        self._reading: tuple[float, datetime, float, float] | None = None
        # One HTTP client per process (a forked worker opens its own): `httpx.get` builds a client and
        # its TLS context on every call, ~50 ms, which every page render paid while no simulator answered.
        self._client: httpx.Client | None = None
        self._client_pid = 0

    def _http(self) -> httpx.Client:
        if self._client is None or self._client_pid != os.getpid():
            self._client = httpx.Client(timeout=self.timeout)
            self._client_pid = os.getpid()
        return self._client

    def _read(self) -> tuple[datetime, float] | None:
        try:
            response = self._http().get(self.url)
            body = response.json()
            moment = datetime.fromisoformat(str(body["sim_time"]))
            raw_speed = body.get("speed")
            # A frozen simulator reports speed 0: that is a speed, not a missing value.
            speed = 1.0 if raw_speed is None else float(raw_speed)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.debug("simulator clock unavailable (%s); using the wall clock", type(exc).__name__)
            return None
        if moment.tzinfo is None:
            return None
        return moment, speed

    def now(self) -> datetime:
        return self.reading()[0]

    def reading(self) -> tuple[datetime, float]:
        """The simulator's time and speed; the wall clock (speed 1) while it does not answer (pages
        stay up). Decisions that must not act on the wall's time use `known_reading`."""
        return self.known_reading() or (datetime.now(UTC), 1.0)

    def known_reading(self) -> tuple[datetime, float] | None:
        """The simulator's time and speed, or None while it does not answer (never the wall clock:
        a scheduler acting on the wall's time would act on the wrong day, e.g. the opening scan of
        today's wall date while the simulator replays another day)."""
        wall = datetime.now(UTC)
        with self._lock:
            mono = time.monotonic()
            if self._reading is None or mono - self._reading[0] > self.cache_seconds:
                found = self._read()
                if found is None:
                    self._reading = None
                    return None
                self._reading = (mono, found[0], wall.timestamp(), found[1])
            _, sim, wall_then, speed = self._reading
        return sim + timedelta(seconds=(wall.timestamp() - wall_then) * speed), speed

    def reset(self) -> None:
        with self._lock:
            self._reading = None


_WALL = WallClock()
_sim_clocks: dict[str, SimulatorClock] = {}
_sim_lock = threading.Lock()


def exchange_clock() -> ExchangeClock:
    """The clock of the exchange the settings point at (one `SimulatorClock` per simulator URL)."""
    if not getattr(settings, "KIWOOM_USE_SIMULATOR", False):
        return _WALL
    base = settings.KIWOOM_BASE_URL
    with _sim_lock:
        clock = _sim_clocks.get(base)
        if clock is None:
            clock = _sim_clocks[base] = SimulatorClock(base)
        return clock


def exchange_now() -> datetime:
    """The current time at the exchange (aware)."""
    return exchange_clock().now()


def reset_cache() -> None:
    """Forget every simulator reading (tests that restart or move a simulator)."""
    with _sim_lock:
        for clock in _sim_clocks.values():
            clock.reset()
