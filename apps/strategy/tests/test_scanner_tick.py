"""Scheduling on the exchange's clock with a fake clock and a fake task queue: the beat entry's ticks
(every few wall seconds) and the ticks they queue scan every exchange minute of the window exactly once
— also when the exchange runs 60× faster than the wall clock, when several workers tick at once, and
when ticks arrive late — none outside the window, none on a holiday, an hour later on a 수능 day."""

from __future__ import annotations

import datetime as dt
import heapq
import random
from dataclasses import dataclass, field

import pytest

from apps.strategy import scanner
from krx import KST


def kst(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(
        dt.date.fromisoformat(day), dt.time.fromisoformat(hhmm), tzinfo=KST
    ).astimezone(dt.UTC)


@dataclass
class FakeExchange:
    """Wall seconds since the start ↔ exchange time at `speed`; a queue of tasks by wall time."""

    start: dt.datetime
    speed: float
    beat_seconds: float = 5.0
    latency: float = 0.0  # the most a task waits for a worker (wall seconds, random)
    workers: int = 1  # beat ticks delivered to this many workers at once (a duplicated message)
    scans: list[dt.datetime] = field(default_factory=list)
    queued: int = 0
    _queue: list[tuple[float, int, str | None]] = field(default_factory=list)
    _seq: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(7))

    def exchange_at(self, wall: float) -> dt.datetime:
        return self.start + dt.timedelta(seconds=wall * self.speed)

    def _push(self, wall: float, slot: str | None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (wall + self._rng.uniform(0, self.latency), self._seq, slot))

    def run(self, wall_seconds: float) -> None:
        beat = 0.0
        while beat <= wall_seconds:
            for _ in range(self.workers):
                self._push(beat, None)
            beat += self.beat_seconds
        while self._queue:
            wall, _, slot = heapq.heappop(self._queue)
            if wall > wall_seconds:
                break

            def enqueue(target: dt.datetime, countdown: float, at: float = wall) -> None:
                self.queued += 1
                self._push(at + countdown, target.isoformat())

            def record(now: dt.datetime, slot_: dt.datetime) -> None:
                self.scans.append(slot_)

            scanner.scan_tick(
                self.exchange_at(wall),
                self.speed,
                enqueue=enqueue,
                target=dt.datetime.fromisoformat(slot) if slot else None,
                run=record,  # type: ignore[arg-type]
            )


def minutes(day: str, first: str, count: int) -> list[dt.datetime]:
    start = kst(day, first)
    return [start + dt.timedelta(minutes=i) for i in range(count)]


@pytest.mark.parametrize(
    ("speed", "beat", "latency", "workers"),
    [
        (
            60.0,
            5.0,
            0.0,
            1,
        ),  # the night demo: a minute per wall second, a beat tick every 5 minutes
        (60.0, 5.0, 0.3, 3),  # three workers, messages late by up to 18 exchange seconds
        (1.0, 5.0, 0.0, 1),  # the real exchange's pace
        (1.0, 5.0, 2.0, 2),
        (10.0, 1.0, 0.5, 2),
    ],
)
def test_every_minute_of_the_window_exactly_once(
    speed: float, beat: float, latency: float, workers: int
) -> None:
    # 08:50 → 10:10 exchange time.
    fake = FakeExchange(kst("2025-02-04", "08:50"), speed, beat, latency, workers)
    fake.run(80 * 60 / speed)
    assert sorted(fake.scans) == minutes("2025-02-04", "09:00", 60)
    assert len(fake.scans) == len(set(fake.scans)) == 60
    # The follow-up ticks are one per slot (plus the early ones re-queued), not one per beat tick.
    assert fake.queued <= 2 * 60


def test_none_on_a_holiday_and_an_hour_later_on_a_suneung_day() -> None:
    holiday = FakeExchange(kst("2025-10-03", "08:50"), 60.0)
    holiday.run(80)
    assert holiday.scans == [] and holiday.queued == 0

    csat = FakeExchange(kst("2025-11-13", "08:50"), 60.0)
    csat.run(140)  # to 11:10
    assert sorted(csat.scans) == minutes("2025-11-13", "10:00", 60)


def test_a_frozen_exchange_is_scanned_once_and_queues_nothing(settings) -> None:
    fake = FakeExchange(kst("2025-02-04", "09:07") + dt.timedelta(seconds=30), 0.0)
    fake.run(60)  # 13 beat ticks at the same exchange instant
    assert fake.scans == [kst("2025-02-04", "09:07")] and fake.queued == 0


def test_interval_setting_and_the_switch(settings) -> None:
    settings.STRATEGY_SCAN_INTERVAL_MINUTES = 10
    fake = FakeExchange(kst("2025-02-04", "08:50"), 60.0)
    fake.run(80)
    assert sorted(fake.scans) == [kst("2025-02-04", f"09:{m}0") for m in range(6)]

    settings.STRATEGY_SCAN_ENABLED = False
    off = FakeExchange(kst("2025-02-05", "08:50"), 60.0)
    off.run(80)
    assert off.scans == []


def test_bad_window_settings_are_refused_loudly(settings) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.STRATEGY_SCAN_START = "9시"
    with pytest.raises(ImproperlyConfigured, match="STRATEGY_SCAN_START"):
        scanner.scan_window()
    settings.STRATEGY_SCAN_START = "10:30"
    with pytest.raises(ImproperlyConfigured, match="end after"):
        scanner.scan_window()
