"""When the opening scanner runs, on the exchange's clock (no Django, no I/O but the KRX calendar).

The scan window is given in KST (default 09:00–10:00) for a regular session and moves with the day's
open: on a 수능 day (and the year's first trading day) KRX opens at 10:00, so the window is 10:00–11:00.
Holidays and weekends have no window. Inside it a scan is due at every `interval`-th exchange minute
from the window's start (the start included, the end excluded: 09:00 … 09:59 by default). A scan's
*slot* is that minute (aware, UTC): the unit that is scanned exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from krx import KST
from krx import calendar as krx_calendar
from krx.sessions import OPEN

__all__ = ["ScanWindow", "due_slot", "next_slot", "window_on"]

_MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ScanWindow:
    start: dt.time = dt.time(9, 0)  # KST, for a session opening at 09:00
    end: dt.time = dt.time(10, 0)
    interval_minutes: int = 1

    def __post_init__(self) -> None:
        if self.interval_minutes < 1:
            raise ValueError("the scan interval must be at least one exchange minute")
        if self.end <= self.start:
            raise ValueError("the scan window must end after it starts")


def window_on(day: dt.date, window: ScanWindow) -> tuple[dt.datetime, dt.datetime] | None:
    """The day's scan window (aware UTC start, end), shifted with the session's open; None on a day
    KRX does not trade."""
    if not krx_calendar.is_trading_day(day):
        return None
    session = krx_calendar.session(day)
    shift = session.open - dt.datetime.combine(day, OPEN, tzinfo=KST)
    start = dt.datetime.combine(day, window.start, tzinfo=KST) + shift
    end = dt.datetime.combine(day, window.end, tzinfo=KST) + shift
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _minute_of(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the scan schedule")
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def due_slot(now: dt.datetime, window: ScanWindow) -> dt.datetime | None:
    """The slot due at the exchange time `now` (its minute), or None when no scan is due then."""
    minute = _minute_of(now)
    bounds = window_on(krx_calendar.trading_day_of(now), window)
    if bounds is None:
        return None
    start, end = bounds
    if not start <= minute < end:
        return None
    if ((minute - start) // _MINUTE) % window.interval_minutes:
        return None
    return minute


def next_slot(now: dt.datetime, window: ScanWindow) -> dt.datetime | None:
    """The first slot after the minute of `now` on the same day (None: no more today)."""
    minute = _minute_of(now)
    bounds = window_on(krx_calendar.trading_day_of(now), window)
    if bounds is None:
        return None
    start, end = bounds
    if minute < start:
        return start
    steps = (minute - start) // (_MINUTE * window.interval_minutes) + 1
    candidate = start + steps * window.interval_minutes * _MINUTE
    return candidate if candidate < end else None
