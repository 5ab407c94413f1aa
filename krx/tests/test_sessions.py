"""The one session phase table, on a regular day, the first day of a year and a CSAT day."""

from __future__ import annotations

import datetime as dt

import pytest

from krx import KST, SessionPhase, regular_session
from krx import calendar as cal


def kst(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=KST)


DAY = dt.date(2025, 2, 3)


@pytest.mark.parametrize(
    ("hh", "mm", "phase"),
    [
        (8, 29, SessionPhase.CLOSED),
        (8, 30, SessionPhase.PRE_MARKET_OFF_HOURS),
        (8, 40, SessionPhase.OPENING_AUCTION),
        (9, 0, SessionPhase.CONTINUOUS),
        (15, 20, SessionPhase.CLOSING_AUCTION),
        (15, 30, SessionPhase.POST_CLOSE),
        (15, 40, SessionPhase.AFTER_HOURS_CLOSE),
        (16, 0, SessionPhase.AFTER_HOURS_SINGLE),
        (18, 0, SessionPhase.CLOSED),
    ],
)
def test_one_table_for_an_ordinary_day(hh: int, mm: int, phase: SessionPhase) -> None:
    assert regular_session(DAY).phase_at(kst(DAY, hh, mm)) is phase


def test_first_day_of_year_opens_late_but_auctions_from_0830() -> None:
    day = dt.date(2026, 1, 2)
    s = regular_session(day, first_of_year=True)
    assert s.is_late_open and not s.is_csat_day
    assert s.phase_at(kst(day, 8, 30)) is SessionPhase.PRE_MARKET_OFF_HOURS
    assert s.phase_at(kst(day, 9, 30)) is SessionPhase.OPENING_AUCTION
    assert s.phase_at(kst(day, 10, 0)) is SessionPhase.CONTINUOUS
    assert s.phase_at(kst(day, 15, 30)) is SessionPhase.POST_CLOSE


def test_csat_day_moves_every_phase_an_hour() -> None:
    day = dt.date(2026, 11, 19)
    s = regular_session(day, csat=True)
    assert s.is_csat_day
    assert s.phase_at(kst(day, 9, 0)) is SessionPhase.CLOSED
    assert s.phase_at(kst(day, 9, 30)) is SessionPhase.PRE_MARKET_OFF_HOURS
    assert s.phase_at(kst(day, 10, 0)) is SessionPhase.CONTINUOUS
    assert s.phase_at(kst(day, 16, 20)) is SessionPhase.CLOSING_AUCTION
    assert s.phase_at(kst(day, 17, 0)) is SessionPhase.AFTER_HOURS_SINGLE


def test_pure_schedule_agrees_with_the_calendar() -> None:
    """regular_session (no pandas) and calendar.session (XKRX) give the same day, late opens
    included, for every trading day of the current rules."""
    for day in cal.trading_days(dt.date(2021, 1, 1), dt.date(2026, 12, 30)):
        first = cal.previous_trading_day(day).year < day.year
        pure = regular_session(day, first_of_year=first, csat=day in cal.CSAT_DAYS)
        assert pure == cal.session(day), day


def test_missing_csat_years_are_reported() -> None:
    assert cal.csat_missing_years([2025, 2026]) == []
    assert cal.csat_missing_years([2027, 2028, 2019]) == [2028]
