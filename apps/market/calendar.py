"""The KRX trading calendar: the one module that knows trading days, session times and phases.

Built on exchange-calendars' XKRX (holidays, the late open of the first trading day of a year,
the year-end closing day). XKRX stops listing 수능 (CSAT) days after 2020, so this module adds
them: on a CSAT day every KRX schedule moves one hour later (10:00 open, 16:30 close).

All functions take and return aware datetimes (any zone; results in UTC) or plain dates that
mean a KST trading day. Times of day are the regular-market (KRX 정규장) schedule; the phases
before and after it follow KRX: opening call auction from 08:30, closing call auction in the
last ten minutes, after-hours closing-price trading 15:40-16:00 and single-price trading
16:00-18:00, each shifted with the close on a CSAT day.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

KST = ZoneInfo("Asia/Seoul")
UTC = dt.UTC

# XKRX's own list ends with 2020-12-03; these are the later 대학수학능력시험 days.
CSAT_DAYS: frozenset[dt.date] = frozenset(
    {
        dt.date(2021, 11, 18),
        dt.date(2022, 11, 17),
        dt.date(2023, 11, 16),
        dt.date(2024, 11, 14),
        dt.date(2025, 11, 13),
        dt.date(2026, 11, 19),  # 2027학년도, as announced by the Ministry of Education
    }
)
_CSAT_SHIFT = dt.timedelta(hours=1)

_CALENDAR_START = "2005-01-03"
_REGULAR_CLOSE_KST = dt.time(15, 30)
_PRE_OPEN_KST = dt.time(8, 30)
_PRE_MARKET_OFF_HOURS_END_KST = dt.time(8, 40)
_CLOSING_AUCTION = dt.timedelta(minutes=10)
_AFTER_HOURS_CLOSE_START = dt.timedelta(minutes=10)
_AFTER_HOURS_SINGLE_START = dt.timedelta(minutes=30)
_AFTER_HOURS_END = dt.timedelta(hours=2, minutes=30)


class Phase(StrEnum):
    CLOSED = "closed"
    PRE_MARKET_OFF_HOURS = "pre_market_off_hours"  # 장전 시간외 종가, inside the opening auction
    OPENING_AUCTION = "opening_auction"  # 장 시작 동시호가
    CONTINUOUS = "continuous"  # 정규장 접속매매
    CLOSING_AUCTION = "closing_auction"  # 장 마감 동시호가
    POST_CLOSE = "post_close"  # 15:30-15:40, no trading
    AFTER_HOURS_CLOSE = "after_hours_close"  # 장후 시간외 종가
    AFTER_HOURS_SINGLE = "after_hours_single"  # 시간외 단일가


class NotATradingDay(ValueError):
    pass


@dataclass(frozen=True)
class Session:
    """One KRX trading day; every datetime is aware UTC."""

    day: dt.date
    pre_open: dt.datetime
    open: dt.datetime
    closing_auction: dt.datetime
    close: dt.datetime
    after_hours_end: dt.datetime

    @property
    def is_late_open(self) -> bool:
        return self.open.astimezone(KST).time() != dt.time(9, 0)

    @property
    def is_csat_day(self) -> bool:
        return self.day in CSAT_DAYS

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


@functools.cache
def _xkrx() -> xcals.ExchangeCalendar:
    # exchange-calendars 4.13 reads Series.values on tz-aware data while building; pandas 3.1
    # deprecates that. Harmless for us; silenced here so it does not drown test output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=pd.errors.Pandas4Warning)
        return xcals.get_calendar("XKRX", start=_CALENDAR_START)


def _as_date(day: dt.date | dt.datetime) -> dt.date:
    if isinstance(day, dt.datetime):
        if day.tzinfo is None:
            raise ValueError("naive datetime given to the calendar")
        return day.astimezone(KST).date()
    return day


def is_trading_day(day: dt.date | dt.datetime) -> bool:
    return bool(_xkrx().is_session(pd.Timestamp(_as_date(day))))


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days from start to end, both inclusive."""
    labels = _xkrx().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [ts.date() for ts in labels]


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays in [start, end] on which KRX does not trade (public holidays, year-end close)."""
    sessions = set(trading_days(start, end))
    days = pd.bdate_range(start, end)
    return [ts.date() for ts in days if ts.date() not in sessions]


def previous_trading_day(day: dt.date | dt.datetime) -> dt.date:
    """The last trading day strictly before day."""
    return (
        _xkrx()
        .date_to_session(pd.Timestamp(_as_date(day)) - pd.Timedelta(days=1), "previous")
        .date()
    )


def next_trading_day(day: dt.date | dt.datetime) -> dt.date:
    """The first trading day strictly after day."""
    return (
        _xkrx().date_to_session(pd.Timestamp(_as_date(day)) + pd.Timedelta(days=1), "next").date()
    )


@functools.lru_cache(maxsize=4096)
def session(day: dt.date) -> Session:
    """The session of a trading day; raises NotATradingDay otherwise."""
    day = _as_date(day)
    if not is_trading_day(day):
        raise NotATradingDay(f"{day.isoformat()} is not a KRX trading day")
    cal = _xkrx()
    label = pd.Timestamp(day)
    open_ = cal.session_open(label).to_pydatetime()
    close = cal.session_close(label).to_pydatetime()
    if day in CSAT_DAYS and open_.astimezone(KST).time() == dt.time(9, 0):
        open_ += _CSAT_SHIFT
        close += _CSAT_SHIFT
    # Everything before the open shifts with the close, not with the open: the first day of the
    # year opens at 10:00 but its call auction still starts at 08:30.
    shift = dt.datetime.combine(day, close.astimezone(KST).time()) - dt.datetime.combine(
        day, _REGULAR_CLOSE_KST
    )
    pre_open = dt.datetime.combine(day, _PRE_OPEN_KST, tzinfo=KST) + shift
    return Session(
        day=day,
        pre_open=pre_open.astimezone(UTC),
        open=open_.astimezone(UTC),
        closing_auction=(close - _CLOSING_AUCTION).astimezone(UTC),
        close=close.astimezone(UTC),
        after_hours_end=(close + _AFTER_HOURS_END).astimezone(UTC),
    )


def trading_day_of(moment: dt.datetime) -> dt.date:
    """The KST calendar date of an aware moment (whether or not KRX trades that day)."""
    return _as_date(moment)


def phase_at(moment: dt.datetime) -> Phase:
    """The KRX market phase at an aware moment."""
    day = _as_date(moment)
    if not is_trading_day(day):
        return Phase.CLOSED
    s = session(day)
    if moment < s.pre_open or moment >= s.after_hours_end:
        return Phase.CLOSED
    if moment < s.open:
        off_hours_end = s.pre_open + (
            dt.datetime.combine(day, _PRE_MARKET_OFF_HOURS_END_KST)
            - dt.datetime.combine(day, _PRE_OPEN_KST)
        )
        return Phase.PRE_MARKET_OFF_HOURS if moment < off_hours_end else Phase.OPENING_AUCTION
    if moment < s.closing_auction:
        return Phase.CONTINUOUS
    if moment < s.close:
        return Phase.CLOSING_AUCTION
    if moment < s.close + _AFTER_HOURS_CLOSE_START:
        return Phase.POST_CLOSE
    if moment < s.close + _AFTER_HOURS_SINGLE_START:
        return Phase.AFTER_HOURS_CLOSE
    return Phase.AFTER_HOURS_SINGLE


def is_market_open(now: dt.datetime) -> bool:
    """True during the regular market (continuous trading and the closing auction).

    This is what the scheduler asks before a market-hours job; pre-open and after-hours
    phases are available from phase_at.
    """
    return phase_at(now) in (Phase.CONTINUOUS, Phase.CLOSING_AUCTION)


def now_kst() -> dt.datetime:
    return dt.datetime.now(tz=KST)


def next_open(now: dt.datetime) -> dt.datetime:
    """The next regular-market open strictly after `now` (for scheduling the first job)."""
    day = _as_date(now)
    if is_trading_day(day) and now < session(day).open:
        return session(day).open
    return session(next_trading_day(day)).open
