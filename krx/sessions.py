"""KRX session phases: the ONE phase table of a trading day, and the day's schedule.

A `Session` is one trading day's schedule (aware UTC datetimes). `Session.phase_at` is the table:

| phase                   | from                         | until                     |
|-------------------------|------------------------------|---------------------------|
| PRE_MARKET_OFF_HOURS    | pre-open (08:30)             | pre-open + 10 min (08:40) |
| OPENING_AUCTION         | 08:40                        | open (09:00)              |
| CONTINUOUS              | open                         | close - 10 min (15:20)    |
| CLOSING_AUCTION         | 15:20                        | close (15:30)             |
| POST_CLOSE              | close                        | close + 10 min            |
| AFTER_HOURS_CLOSE       | close + 10 min (15:40)       | close + 30 min (16:00)    |
| AFTER_HOURS_SINGLE      | close + 30 min (16:00)       | close + 2 h 30 (18:00)    |
| CLOSED                  | otherwise                    |                           |

The pre-market off-hours session (장전 시간외 종가) runs inside the opening call auction; a view of
the regular market only (the simulator's) folds it into OPENING_AUCTION with `regular_phase`.

Late opens: on a 수능 (CSAT) day every schedule moves one hour later (10:00 open, 16:30 close);
on the first trading day of a year the market opens at 10:00 but its call auction still starts
at 08:30 (everything before the open shifts with the close, not with the open). Which days those
are is `krx.calendar`'s business; `regular_session` builds a day from the flags.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from enum import StrEnum

from .markets import KST

UTC = dt.UTC


class SessionPhase(StrEnum):
    CLOSED = "closed"
    PRE_MARKET_OFF_HOURS = "pre_market_off_hours"  # 장전 시간외 종가, inside the opening auction
    OPENING_AUCTION = "opening_auction"  # 장 시작 동시호가, single price at the open
    CONTINUOUS = "continuous"  # 정규장 접속매매
    CLOSING_AUCTION = "closing_auction"  # 장 마감 동시호가, single price at the close
    POST_CLOSE = "post_close"  # 15:30-15:40, no trading
    AFTER_HOURS_CLOSE = "after_hours_close"  # 장후 시간외 종가
    AFTER_HOURS_SINGLE = "after_hours_single"  # 시간외 단일가


REGULAR_PHASES = frozenset(
    {SessionPhase.OPENING_AUCTION, SessionPhase.CONTINUOUS, SessionPhase.CLOSING_AUCTION}
)

# The regular (정규장) schedule of an ordinary day since 2016-08-01, KST wall clock.
PRE_OPEN = dt.time(8, 30)
OPEN = dt.time(9, 0)
CLOSING_AUCTION_START = dt.time(15, 20)
CLOSE = dt.time(15, 30)
LATE_OPEN = dt.time(10, 0)
CSAT_SHIFT = dt.timedelta(hours=1)

_PRE_MARKET_OFF_HOURS = dt.timedelta(minutes=10)
_CLOSING_AUCTION = dt.timedelta(minutes=10)
_AFTER_HOURS_CLOSE_START = dt.timedelta(minutes=10)
_AFTER_HOURS_SINGLE_START = dt.timedelta(minutes=30)
_AFTER_HOURS_END = dt.timedelta(hours=2, minutes=30)


@dataclass(frozen=True)
class Session:
    """One KRX trading day; every datetime is aware UTC."""

    day: dt.date
    pre_open: dt.datetime
    open: dt.datetime
    closing_auction: dt.datetime
    close: dt.datetime
    after_hours_end: dt.datetime
    is_csat_day: bool = False

    @property
    def is_late_open(self) -> bool:
        return self.open.astimezone(KST).time() != OPEN

    def minute_bar_ends(self) -> list[dt.datetime]:
        """End times of the session's 1-minute bars, by the project's bar convention.

        A bar is labelled with its END minute: the 09:01 bar covers 09:00:00-09:00:59 and
        includes the opening auction. Continuous trading yields one bar per minute up to the
        start of the closing auction; the closing auction is ONE bar labelled with the close
        (15:30). A regular day therefore has 380 + 1 = 381 bars; the 10:00 first-day-of-year
        open has 321; a CSAT day (10:00-16:30) has 381.
        """
        minutes = int((self.closing_auction - self.open).total_seconds() // 60)
        ends = [self.open + dt.timedelta(minutes=i + 1) for i in range(minutes)]
        ends.append(self.close)
        return ends

    @property
    def expected_minute_bars(self) -> int:
        return int((self.closing_auction - self.open).total_seconds() // 60) + 1

    def phase_at(self, moment: dt.datetime) -> SessionPhase:
        """The phase at an aware moment (CLOSED outside this day's schedule)."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime given to the session table")
        if moment < self.pre_open or moment >= self.after_hours_end:
            return SessionPhase.CLOSED
        if moment < self.open:
            if moment < self.pre_open + _PRE_MARKET_OFF_HOURS:
                return SessionPhase.PRE_MARKET_OFF_HOURS
            return SessionPhase.OPENING_AUCTION
        if moment < self.closing_auction:
            return SessionPhase.CONTINUOUS
        if moment < self.close:
            return SessionPhase.CLOSING_AUCTION
        if moment < self.close + _AFTER_HOURS_CLOSE_START:
            return SessionPhase.POST_CLOSE
        if moment < self.close + _AFTER_HOURS_SINGLE_START:
            return SessionPhase.AFTER_HOURS_CLOSE
        return SessionPhase.AFTER_HOURS_SINGLE


def regular_phase(phase: SessionPhase) -> SessionPhase:
    """Fold a phase onto the regular market: off-hours trading before the open is part of the
    opening auction; everything after the close is CLOSED."""
    if phase is SessionPhase.PRE_MARKET_OFF_HOURS:
        return SessionPhase.OPENING_AUCTION
    return phase if phase in REGULAR_PHASES else SessionPhase.CLOSED


def session_from(
    day: dt.date, open_: dt.datetime, close: dt.datetime, *, csat: bool = False
) -> Session:
    """A Session from the day's open and close (aware). The pre-open shifts with the close, not
    with the open: the first day of the year opens at 10:00 but its call auction still starts
    at 08:30, and a CSAT day (close 16:30) starts it at 09:30."""
    shift = dt.datetime.combine(day, close.astimezone(KST).time()) - dt.datetime.combine(day, CLOSE)
    pre_open = dt.datetime.combine(day, PRE_OPEN, tzinfo=KST) + shift
    return Session(
        day=day,
        pre_open=pre_open.astimezone(UTC),
        open=open_.astimezone(UTC),
        closing_auction=(close - _CLOSING_AUCTION).astimezone(UTC),
        close=close.astimezone(UTC),
        after_hours_end=(close + _AFTER_HOURS_END).astimezone(UTC),
        is_csat_day=csat,
    )


@functools.lru_cache(maxsize=1024)
def regular_session(day: dt.date, *, first_of_year: bool = False, csat: bool = False) -> Session:
    """The current KRX schedule of `day` (no holiday check): 09:00-15:30, opening at 10:00 on
    the first trading day of a year, and one hour later throughout on a CSAT day."""
    open_ = dt.datetime.combine(day, OPEN, tzinfo=KST)
    close = dt.datetime.combine(day, CLOSE, tzinfo=KST)
    if csat:
        open_, close = open_ + CSAT_SHIFT, close + CSAT_SHIFT
    elif first_of_year:
        open_ = dt.datetime.combine(day, LATE_OPEN, tzinfo=KST)
    return session_from(day, open_, close, csat=csat)
