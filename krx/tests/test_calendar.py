"""Calendar tests on known KRX holidays, late opens and the CSAT day."""

import datetime as dt

import pytest

from krx import KST, SessionPhase
from krx import calendar as cal


def kst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=KST)


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2025, 1, 1),  # 신정
        dt.date(2025, 1, 27),  # temporary holiday before Seollal
        dt.date(2025, 1, 28),  # 설날 연휴
        dt.date(2025, 1, 29),
        dt.date(2025, 1, 30),
        dt.date(2025, 3, 3),  # 삼일절 substitute
        dt.date(2025, 5, 5),  # 어린이날 / 부처님오신날
        dt.date(2025, 6, 3),  # presidential election
        dt.date(2025, 10, 3),  # 개천절
        dt.date(2025, 10, 6),  # 추석
        dt.date(2025, 10, 7),
        dt.date(2025, 10, 8),
        dt.date(2025, 10, 9),  # 한글날
        dt.date(2025, 12, 25),
        dt.date(2025, 12, 31),  # 연말 휴장일
        dt.date(2024, 12, 31),
    ],
)
def test_known_holidays_are_not_trading_days(day: dt.date) -> None:
    assert not cal.is_trading_day(day)
    assert day in cal.holidays(day, day)
    with pytest.raises(cal.NotATradingDay):
        cal.session(day)


@pytest.mark.parametrize(
    "day", [dt.date(2025, 1, 2), dt.date(2025, 1, 31), dt.date(2025, 6, 2), dt.date(2025, 10, 10)]
)
def test_ordinary_days_trade(day: dt.date) -> None:
    assert cal.is_trading_day(day)


def test_weekend_is_closed_but_not_a_holiday() -> None:
    assert not cal.is_trading_day(dt.date(2025, 1, 4))
    assert cal.holidays(dt.date(2025, 1, 4), dt.date(2025, 1, 5)) == []


def test_regular_session_times_and_381_bars() -> None:
    s = cal.session(dt.date(2025, 2, 3))
    assert s.open == kst(2025, 2, 3, 9).astimezone(dt.UTC)
    assert s.close == kst(2025, 2, 3, 15, 30)
    assert s.closing_auction == kst(2025, 2, 3, 15, 20)
    assert s.pre_open == kst(2025, 2, 3, 8, 30)
    assert s.expected_minute_bars == 381
    ends = s.minute_bar_ends()
    assert len(ends) == 381
    assert ends[0] == kst(2025, 2, 3, 9, 1)
    assert ends[-2] == kst(2025, 2, 3, 15, 20)
    assert ends[-1] == kst(2025, 2, 3, 15, 30)
    assert not s.is_late_open
    assert s.open.tzinfo is not None and s.open.utcoffset() == dt.timedelta(0)


def test_first_trading_day_of_year_opens_at_ten() -> None:
    s = cal.session(dt.date(2025, 1, 2))
    assert s.is_late_open
    assert s.open == kst(2025, 1, 2, 10)
    assert s.close == kst(2025, 1, 2, 15, 30)
    assert s.pre_open == kst(2025, 1, 2, 8, 30)
    assert s.expected_minute_bars == 321
    assert cal.phase_at(kst(2025, 1, 2, 9, 30)) is SessionPhase.OPENING_AUCTION


@pytest.mark.parametrize(
    "day", [dt.date(2024, 11, 14), dt.date(2025, 11, 13), dt.date(2019, 11, 14)]
)
def test_csat_day_shifts_whole_schedule_by_an_hour(day: dt.date) -> None:
    s = cal.session(day)
    assert s.is_csat_day or day.year < 2021
    assert s.open.astimezone(KST).time() == dt.time(10, 0)
    assert s.close.astimezone(KST).time() == dt.time(16, 30)
    assert s.pre_open.astimezone(KST).time() == dt.time(9, 30)
    assert s.expected_minute_bars == 381
    assert cal.is_market_open(dt.datetime.combine(day, dt.time(16, 25), tzinfo=KST))
    assert not cal.is_market_open(dt.datetime.combine(day, dt.time(9, 30), tzinfo=KST))


@pytest.mark.parametrize(
    ("moment", "phase"),
    [
        (kst(2025, 2, 3, 8, 0), SessionPhase.CLOSED),
        (kst(2025, 2, 3, 8, 35), SessionPhase.PRE_MARKET_OFF_HOURS),
        (kst(2025, 2, 3, 8, 45), SessionPhase.OPENING_AUCTION),
        (kst(2025, 2, 3, 9, 0), SessionPhase.CONTINUOUS),
        (kst(2025, 2, 3, 15, 19, 59), SessionPhase.CONTINUOUS),
        (kst(2025, 2, 3, 15, 20), SessionPhase.CLOSING_AUCTION),
        (kst(2025, 2, 3, 15, 30), SessionPhase.POST_CLOSE),
        (kst(2025, 2, 3, 15, 45), SessionPhase.AFTER_HOURS_CLOSE),
        (kst(2025, 2, 3, 17, 0), SessionPhase.AFTER_HOURS_SINGLE),
        (kst(2025, 2, 3, 18, 0), SessionPhase.CLOSED),
        (kst(2025, 2, 1, 10, 0), SessionPhase.CLOSED),  # Saturday
        (kst(2025, 1, 29, 10, 0), SessionPhase.CLOSED),  # Seollal
    ],
)
def test_phase_at(moment: dt.datetime, phase: SessionPhase) -> None:
    assert cal.phase_at(moment) is phase
    # The same instant expressed in UTC gives the same answer.
    assert cal.phase_at(moment.astimezone(dt.UTC)) is phase


def test_is_market_open_boundaries() -> None:
    assert not cal.is_market_open(kst(2025, 2, 3, 8, 59, 59))
    assert cal.is_market_open(kst(2025, 2, 3, 9, 0))
    assert cal.is_market_open(kst(2025, 2, 3, 15, 29, 59))
    assert not cal.is_market_open(kst(2025, 2, 3, 15, 30))


def test_previous_and_next_trading_day_skip_holidays() -> None:
    assert cal.next_trading_day(dt.date(2025, 1, 24)) == dt.date(2025, 1, 31)
    assert cal.previous_trading_day(dt.date(2025, 1, 31)) == dt.date(2025, 1, 24)
    assert cal.next_trading_day(dt.date(2025, 12, 30)) == dt.date(2026, 1, 2)
    assert cal.previous_trading_day(dt.date(2025, 6, 4)) == dt.date(2025, 6, 2)
    assert cal.next_trading_day(dt.date(2025, 1, 31)) == dt.date(2025, 2, 3)


def test_trading_days_range_is_inclusive() -> None:
    days = cal.trading_days(dt.date(2025, 1, 24), dt.date(2025, 2, 3))
    assert days == [dt.date(2025, 1, 24), dt.date(2025, 1, 31), dt.date(2025, 2, 3)]


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.phase_at(dt.datetime(2025, 2, 3, 10, 0))


def test_next_open_skips_holidays_and_sees_late_opens() -> None:
    assert cal.next_open(kst(2025, 2, 3, 8, 0)) == kst(2025, 2, 3, 9, 0)
    assert cal.next_open(kst(2025, 2, 3, 9, 0)) == kst(2025, 2, 4, 9, 0)
    assert cal.next_open(kst(2025, 1, 24, 16, 0)) == kst(2025, 1, 31, 9, 0)
    assert cal.next_open(kst(2025, 12, 30, 16, 0)) == kst(2026, 1, 2, 10, 0)


def test_calendar_built_under_a_frozen_past_clock_still_covers_the_years_ahead(
    time_machine,
) -> None:
    """The calendar is built once per process: a build while a test froze the clock in 2025 must
    not leave a calendar that ends before the real today (it used to end a year after the frozen
    clock, and every later page raised DateOutOfBounds)."""
    cal._xkrx.cache_clear()
    try:
        time_machine.move_to(kst(2025, 3, 1, 12), tick=False)
        assert cal.is_trading_day(dt.date(2025, 3, 4))
        time_machine.move_to(kst(2031, 6, 1, 12), tick=False)
        assert cal.is_trading_day(dt.date(2031, 6, 2))
        assert not cal.is_trading_day(dt.date(2031, 6, 1))  # a Sunday
    finally:
        cal._xkrx.cache_clear()


def test_trading_days_cached_on_disk_give_the_same_days(tmp_path, monkeypatch):
    from krx import calendar

    start, end = dt.date(2024, 12, 20), dt.date(2025, 1, 10)
    built = calendar.trading_days(start, end)
    assert calendar.trading_days(start, end, cache_dir=tmp_path) == built
    (cached,) = tmp_path.glob("xkrx-sessions-*.json")

    # A second process reads the file and never builds the XKRX calendar (seconds) again.
    def no_build():
        raise AssertionError("the calendar was built although the cache had the days")

    monkeypatch.setattr(calendar, "_xkrx", no_build)
    assert calendar.trading_days(start, end, cache_dir=tmp_path) == built
    assert dt.date(2025, 1, 1) not in built and dt.date(2025, 1, 2) in built
    cached.write_text("not json")  # a damaged file is rebuilt, not trusted
    monkeypatch.undo()
    assert calendar.trading_days(start, end, cache_dir=tmp_path) == built
