"""The KRX trading calendar: trading days, each day's session, and the 수능 (CSAT) late opens.

Built on exchange-calendars' XKRX (holidays, the late open of the first trading day of a year,
the year-end closing day, the 15:00 close before 2016-08-01). XKRX stops listing CSAT days after
2020, so this module adds them (`CSAT_DAYS`): on a CSAT day every KRX schedule moves one hour
later (10:00 open, 16:30 close). A year missing from that table would silently give wrong hours,
so the market app registers a system check on `csat_missing_years` (market.W001).

exchange-calendars and pandas are imported on first use, not with this module: building the
XKRX calendar costs seconds, and `CSAT_DAYS` or `sessions` are wanted without it.

All functions take and return aware datetimes (any zone; results in UTC) or plain dates that mean
a KST trading day; none reads the wall clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import json
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .markets import KST
from .sessions import CSAT_SHIFT, OPEN, Session, SessionPhase, session_from

if TYPE_CHECKING:
    import exchange_calendars as xcals

# XKRX's own list ends with 2020-12-03; these are the later 대학수학능력시험 days.
CSAT_DAYS: frozenset[dt.date] = frozenset(
    {
        dt.date(2021, 11, 18),
        dt.date(2022, 11, 17),
        dt.date(2023, 11, 16),
        dt.date(2024, 11, 14),
        dt.date(2025, 11, 13),
        dt.date(2026, 11, 19),  # 2027학년도, as announced by the Ministry of Education
        dt.date(2027, 11, 18),  # 2028학년도, announced by the MOE in 2025 (MBC report, 2025-06)
    }
)
CSAT_YEARS = frozenset(d.year for d in CSAT_DAYS)

_CALENDAR_START = "2005-01-03"
# A fixed end, not exchange-calendars' default of "a year from today": the calendar is built once per
# process and cached, and a process whose clock was frozen in the past when it first built (a
# time_machine test) would otherwise keep a calendar that ends before the real today.
_CALENDAR_END = "2032-12-31"
FIRST_DAY = dt.date.fromisoformat(_CALENDAR_START)
LAST_DAY = dt.date.fromisoformat(_CALENDAR_END)


class NotATradingDay(ValueError):
    pass


def csat_missing_years(years: Iterable[int]) -> list[int]:
    """Years (from 2021, where XKRX's own list stops) without a CSAT day in `CSAT_DAYS`."""
    return sorted(y for y in set(years) if y >= 2021 and y not in CSAT_YEARS)


@functools.cache
def _xkrx() -> xcals.ExchangeCalendar:
    import exchange_calendars as xcals
    import pandas as pd

    # exchange-calendars 4.13 reads Series.values on tz-aware data while building; pandas 3.1
    # deprecates that. Harmless for us; silenced here so it does not drown test output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=pd.errors.Pandas4Warning)
        return xcals.get_calendar("XKRX", start=_CALENDAR_START, end=_CALENDAR_END)


def _ts(day: dt.date) -> Any:
    """A pandas Timestamp (pandas is imported on first use)."""
    from pandas import Timestamp

    return Timestamp(day)


def _as_date(day: dt.date | dt.datetime) -> dt.date:
    if isinstance(day, dt.datetime):
        if day.tzinfo is None:
            raise ValueError("naive datetime given to the calendar")
        return day.astimezone(KST).date()
    return day


def covers(day: dt.date) -> bool:
    """Whether the calendar knows `day` (FIRST_DAY … LAST_DAY; its functions raise outside)."""
    return FIRST_DAY <= day <= LAST_DAY


def is_trading_day(day: dt.date | dt.datetime) -> bool:
    return bool(_xkrx().is_session(_ts(_as_date(day))))


def trading_days(start: dt.date, end: dt.date, *, cache_dir: Path | None = None) -> list[dt.date]:
    """Trading days from start to end, both inclusive.

    With `cache_dir`, the calendar's whole list of sessions is kept in a small JSON file there
    (named after the exchange-calendars version and the calendar's bounds, so a new holiday table
    builds it again): a process that only needs the list, started again (the simulator after a
    crash), reads it in milliseconds instead of building the XKRX calendar (seconds)."""
    if cache_dir is not None:
        days = _cached_sessions(Path(cache_dir))
        lo, hi = bisect.bisect_left(days, start), bisect.bisect_right(days, end)
        if days and days[0] <= start and end <= days[-1]:
            return days[lo:hi]
    labels = _xkrx().sessions_in_range(_ts(start), _ts(end))
    return [ts.date() for ts in labels]


def _cached_sessions(cache_dir: Path) -> list[dt.date]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        tag = version("exchange-calendars")
    except PackageNotFoundError:  # pragma: no cover - the calendar itself would fail then
        tag = "unknown"
    path = cache_dir / f"xkrx-sessions-{tag}-{_CALENDAR_START}-{_CALENDAR_END}.json"
    try:
        return [dt.date.fromisoformat(d) for d in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        pass
    days = [ts.date() for ts in _xkrx().sessions]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".xkrx-")
        with os.fdopen(fd, "w") as fh:
            json.dump([d.isoformat() for d in days], fh)
        os.replace(tmp, path)  # readers see no file or a whole one
        for old in cache_dir.glob("xkrx-sessions-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:  # a read-only or full disk: the calendar still works, only slower next time
        pass
    return days


def holidays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Weekdays in [start, end] on which KRX does not trade (public holidays, year-end close)."""
    sessions = set(trading_days(start, end))
    out = []
    day = start
    while day <= end:
        if day.weekday() < 5 and day not in sessions:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def previous_trading_day(day: dt.date | dt.datetime) -> dt.date:
    """The last trading day strictly before day."""
    label = _ts(_as_date(day) - dt.timedelta(days=1))
    return _xkrx().date_to_session(label, "previous").date()


def next_trading_day(day: dt.date | dt.datetime) -> dt.date:
    """The first trading day strictly after day."""
    label = _ts(_as_date(day) + dt.timedelta(days=1))
    return _xkrx().date_to_session(label, "next").date()


@functools.lru_cache(maxsize=4096)
def session(day: dt.date) -> Session:
    """The session of a trading day; raises NotATradingDay otherwise."""
    day = _as_date(day)
    if not is_trading_day(day):
        raise NotATradingDay(f"{day.isoformat()} is not a KRX trading day")
    cal = _xkrx()
    label = _ts(day)
    open_ = cal.session_open(label).to_pydatetime()
    close = cal.session_close(label).to_pydatetime()
    csat = day in CSAT_DAYS
    if csat and open_.astimezone(KST).time() == OPEN:
        open_ += CSAT_SHIFT
        close += CSAT_SHIFT
    return session_from(day, open_, close, csat=csat)


def trading_day_of(moment: dt.datetime) -> dt.date:
    """The KST calendar date of an aware moment (whether or not KRX trades that day)."""
    return _as_date(moment)


def phase_at(moment: dt.datetime) -> SessionPhase:
    """The KRX market phase at an aware moment (krx.sessions' table on the day's session)."""
    day = _as_date(moment)
    if not is_trading_day(day):
        return SessionPhase.CLOSED
    return session(day).phase_at(moment)


def is_market_open(now: dt.datetime) -> bool:
    """True during the regular market (continuous trading and the closing auction).

    This is what the scheduler asks before a market-hours job; pre-open and after-hours
    phases are available from phase_at.
    """
    return phase_at(now) in (SessionPhase.CONTINUOUS, SessionPhase.CLOSING_AUCTION)


def next_open(now: dt.datetime) -> dt.datetime:
    """The next regular-market open strictly after `now` (for scheduling the first job)."""
    day = _as_date(now)
    if is_trading_day(day) and now < session(day).open:
        return session(day).open
    return session(next_trading_day(day)).open
