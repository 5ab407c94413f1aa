"""The scan window on the exchange's calendar: every minute 09:00–09:59 KST of a trading day, shifted
with a late open (수능 day, the year's first trading day), nothing on a holiday."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.strategy.scanner_schedule import ScanWindow, due_slot, next_slot, window_on
from krx import KST

DEFAULT = ScanWindow()


def kst(day: str, hhmmss: str) -> dt.datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(h, m, s), tzinfo=KST)


@pytest.mark.parametrize(
    ("moment", "slot"),
    [
        (kst("2025-02-04", "08:59:59"), None),
        (kst("2025-02-04", "09:00:00"), kst("2025-02-04", "09:00:00")),
        (kst("2025-02-04", "09:17:45"), kst("2025-02-04", "09:17:00")),
        (kst("2025-02-04", "09:59:59"), kst("2025-02-04", "09:59:00")),
        (kst("2025-02-04", "10:00:00"), None),
        (kst("2025-10-03", "09:05:00"), None),  # 개천절: a holiday
        (kst("2025-02-08", "09:05:00"), None),  # a Saturday
        (kst("2025-11-13", "09:30:00"), None),  # 수능: the session opens at 10:00
        (kst("2025-11-13", "10:00:00"), kst("2025-11-13", "10:00:00")),
        (kst("2025-11-13", "10:59:30"), kst("2025-11-13", "10:59:00")),
        (kst("2025-11-13", "11:00:00"), None),
        (kst("2025-01-02", "09:30:00"), None),  # the year's first trading day opens at 10:00
        (kst("2025-01-02", "10:10:00"), kst("2025-01-02", "10:10:00")),
    ],
)
def test_due_slot(moment: dt.datetime, slot: dt.datetime | None) -> None:
    assert due_slot(moment, DEFAULT) == slot


def test_interval_and_next_slot() -> None:
    every5 = ScanWindow(interval_minutes=5)
    assert due_slot(kst("2025-02-04", "09:05:10"), every5) == kst("2025-02-04", "09:05:00")
    assert due_slot(kst("2025-02-04", "09:06:10"), every5) is None
    assert next_slot(kst("2025-02-04", "09:06:10"), every5) == kst("2025-02-04", "09:10:00")
    assert next_slot(kst("2025-02-04", "08:30:00"), DEFAULT) == kst("2025-02-04", "09:00:00")
    assert next_slot(kst("2025-02-04", "09:00:00"), DEFAULT) == kst("2025-02-04", "09:01:00")
    assert next_slot(kst("2025-02-04", "09:59:00"), DEFAULT) is None
    assert next_slot(kst("2025-10-03", "08:59:00"), DEFAULT) is None


def test_window_bounds_and_bad_windows() -> None:
    start, end = window_on(dt.date(2025, 11, 13), ScanWindow(dt.time(9, 30), dt.time(9, 45))) or (
        None,
        None,
    )
    assert (start, end) == (kst("2025-11-13", "10:30:00"), kst("2025-11-13", "10:45:00"))
    assert window_on(dt.date(2025, 10, 3), DEFAULT) is None
    with pytest.raises(ValueError):
        ScanWindow(interval_minutes=0)
    with pytest.raises(ValueError):
        ScanWindow(start=dt.time(10), end=dt.time(9))
    with pytest.raises(ValueError):
        due_slot(dt.datetime(2025, 2, 4, 9, 5), DEFAULT)  # naive
