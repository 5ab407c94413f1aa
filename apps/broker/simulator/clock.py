"""Clocks for the simulator: small injectable objects with `now() -> aware datetime`.

The exchange never sleeps; whoever owns the loop (the protocol server) asks the clock for the
time and calls `Exchange.advance(clock.now())`. `SimClock` is the protocol server's clock (speed
and position settable through `/_sim/clock`, checked by `admin_speed`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from krx import KST


class ManualClock:
    """Time moves only when told (tests, backtests)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(KST)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, moment: dt.datetime) -> None:
        self._now = moment.astimezone(KST)

    def tick(self, delta: dt.timedelta) -> dt.datetime:
        self._now += delta
        return self._now


class WallClock:
    """The real time in KST."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(KST)


class AcceleratedClock:
    """Simulated time = sim_start + (wall elapsed) x speed. speed 60 runs a 6.5-hour session in
    6.5 minutes; speed 1 with a past `sim_start` replays a fixed date in real time."""

    def __init__(
        self,
        sim_start: dt.datetime,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if sim_start.tzinfo is None:
            raise ValueError("AcceleratedClock needs an aware datetime")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.sim_start = sim_start.astimezone(KST)
        self.speed = speed
        self._monotonic = monotonic
        self._wall_start = monotonic()

    def now(self) -> dt.datetime:
        elapsed = (self._monotonic() - self._wall_start) * self.speed
        return self.sim_start + dt.timedelta(seconds=elapsed)


def replay_clock(
    day: dt.date, speed: float = 1.0, at: dt.time = dt.time(8, 25)
) -> AcceleratedClock:
    """A clock that starts on `day` at `at` KST and runs at `speed`."""
    return AcceleratedClock(dt.datetime.combine(day, at, tzinfo=KST), speed)


def admin_speed(value: Any) -> float:
    """A clock speed from an admin request: a finite number >= 0 (0 freezes the clock)."""
    if isinstance(value, bool):
        raise ValueError("speed must be a number")
    speed = float(value)
    if not math.isfinite(speed) or speed < 0:
        raise ValueError("speed must be a finite number >= 0")
    return speed


class SimClock:
    """Maps the wall clock onto simulated time: sim = origin + (wall - wall0) * speed.

    speed 0 freezes the clock (tests then move it with `set`).
    """

    def __init__(
        self,
        start: dt.datetime,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs an aware start time")
        self._monotonic = monotonic
        self._origin = start
        self._wall0 = monotonic()
        self.speed = speed

    def now(self) -> dt.datetime:
        elapsed = self._monotonic() - self._wall0
        return self._origin + dt.timedelta(seconds=elapsed * self.speed)

    def set(self, when: dt.datetime, speed: float | None = None) -> None:
        self._origin = when
        self._wall0 = self._monotonic()
        if speed is not None:
            self.speed = speed

    def set_speed(self, speed: float) -> None:
        self.set(self.now(), speed)


# A crashed simulator that is started again soon continues its clock as if it had kept running (a real
# exchange does not stop while a client's link is down, nor does its clock go back): the server writes
# its clock beside the state file every second, and a start within CLOCK_CONTINUE_SECONDS of that reading
# resumes from it. A later start resumes where the state file stopped (the night demo the next day).
CLOCK_CONTINUE_SECONDS = 600.0


def clock_path(state_file: str | Path) -> Path:
    return Path(f"{state_file}.clock")


def write_clock(path: Path, sim_time: dt.datetime, speed: float, wall: float | None = None) -> None:
    """Record the clock's reading (atomically: a reader sees the old file or the new one)."""
    body = {
        "sim_time": sim_time.isoformat(),
        "speed": speed,
        "wall": time.time() if wall is None else wall,
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".clock-")
    with os.fdopen(fd, "w") as fh:
        json.dump(body, fh)
    os.replace(tmp, path)


def continued_start(
    path: Path, speed: float, wall: float | None = None, limit: float = CLOCK_CONTINUE_SECONDS
) -> dt.datetime | None:
    """Where a clock of `speed` stands now had it kept running since the last reading in `path`; None when
    there is no usable reading, it was taken at another speed, or longer than `limit` seconds ago."""
    try:
        body = json.loads(path.read_text())
        sim_time = dt.datetime.fromisoformat(body["sim_time"])
        gap = (time.time() if wall is None else wall) - float(body["wall"])
        same_speed = math.isclose(float(body["speed"]), speed)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if sim_time.tzinfo is None or not same_speed or not 0 <= gap <= limit:
        return None
    return sim_time + dt.timedelta(seconds=gap * speed)
