"""KRX rules: tick tables by date, rounding, limits, the regular-market phases, VI thresholds."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krx import (
    KST,
    Market,
    SessionPhase,
    change_sign,
    is_on_tick,
    price_limits,
    regular_phase,
    regular_session,
    step_ticks,
    tick_round,
    tick_size,
    vi_thresholds,
)

NEW = dt.date(2025, 6, 2)
OLD = dt.date(2022, 6, 2)
markets = st.sampled_from([Market.KOSPI, Market.KOSDAQ])
dates = st.sampled_from([NEW, OLD, dt.date(2023, 1, 24), dt.date(2023, 1, 25)])
prices = st.integers(min_value=1, max_value=3_000_000)


@pytest.mark.parametrize(
    ("price", "market", "day", "tick"),
    [
        (1_999, Market.KOSPI, NEW, 1),
        (2_000, Market.KOSPI, NEW, 5),
        (4_995, Market.KOSDAQ, NEW, 5),
        (5_000, Market.KOSDAQ, NEW, 10),
        (19_990, Market.KOSPI, NEW, 10),
        (20_000, Market.KOSPI, NEW, 50),
        (50_000, Market.KOSPI, NEW, 100),
        (199_900, Market.KOSDAQ, NEW, 100),
        (200_000, Market.KOSDAQ, NEW, 500),
        (500_000, Market.KOSPI, NEW, 1_000),
        # before 2023-01-25 the markets differed
        (999, Market.KOSPI, OLD, 1),
        (1_000, Market.KOSPI, OLD, 5),
        (5_000, Market.KOSPI, OLD, 10),
        (10_000, Market.KOSPI, OLD, 50),
        (50_000, Market.KOSPI, OLD, 100),
        (100_000, Market.KOSPI, OLD, 500),
        (2_400_000, Market.KOSPI, dt.date(2018, 1, 16), 1_000),
        (50_000, Market.KOSDAQ, OLD, 100),
        (600_000, Market.KOSDAQ, OLD, 100),
        (10_000, Market.KOSPI, dt.date(2023, 1, 24), 50),
        (10_000, Market.KOSPI, dt.date(2023, 1, 25), 10),
    ],
)
def test_tick_table(price: int, market: Market, day: dt.date, tick: int) -> None:
    assert tick_size(price, market, day) == tick


def test_limits_match_the_kiwoom_example() -> None:
    # ka10001 example: base 74,900 -> 상한가 97,300 / 하한가 52,500
    assert price_limits(74_900, Market.KOSPI, NEW) == (52_500, 97_300)


@given(prices, markets, dates, st.sampled_from(["down", "up", "nearest"]))
def test_tick_round_lands_on_grid_within_one_tick(
    price: int, market: Market, day: dt.date, direction: str
) -> None:
    r = tick_round(price, market, day, direction)  # type: ignore[arg-type]
    assert is_on_tick(r, market, day)
    assert abs(r - price) < max(tick_size(price, market, day), tick_size(r, market, day))
    if direction == "down":
        assert r <= price
    if direction == "up":
        assert r >= price
    if is_on_tick(price, market, day):
        assert r == price


@given(st.integers(min_value=100, max_value=2_000_000), markets, dates)
def test_limits_on_grid_and_rounded_toward_base(base: int, market: Market, day: dt.date) -> None:
    lower, upper = price_limits(base, market, day)
    assert is_on_tick(lower, market, day) and is_on_tick(upper, market, day)
    assert lower <= base <= upper
    assert upper * 10 <= base * 13  # never beyond +30 %
    assert lower * 10 >= base * 7  # never beyond -30 %
    # the next tick outside would break the 30 % band
    assert step_ticks(upper, 1, market, day) * 10 > base * 13
    assert step_ticks(lower, -1, market, day) * 10 < base * 7


@given(prices.filter(lambda p: p > 1), markets, dates, st.integers(-5, 5))
def test_step_ticks_stays_on_grid(price: int, market: Market, day: dt.date, steps: int) -> None:
    p = tick_round(price, market, day)
    moved = step_ticks(p, steps, market, day)
    assert is_on_tick(moved, market, day)
    assert (moved > p) == (steps > 0) or moved == p


@pytest.mark.parametrize(
    ("hhmm", "phase"),
    [
        ((8, 29), SessionPhase.CLOSED),
        ((8, 30), SessionPhase.OPENING_AUCTION),
        ((8, 59), SessionPhase.OPENING_AUCTION),
        ((9, 0), SessionPhase.CONTINUOUS),
        ((15, 19), SessionPhase.CONTINUOUS),
        ((15, 20), SessionPhase.CLOSING_AUCTION),
        ((15, 29), SessionPhase.CLOSING_AUCTION),
        ((15, 30), SessionPhase.CLOSED),
        ((17, 0), SessionPhase.CLOSED),
    ],
)
def test_regular_market_phase(hhmm: tuple[int, int], phase: SessionPhase) -> None:
    """The simulator's view: the one table folded onto the regular market."""
    moment = dt.datetime(2025, 6, 2, *hhmm, tzinfo=KST)
    s = regular_session(moment.date())
    assert regular_phase(s.phase_at(moment)) is phase
    assert regular_phase(s.phase_at(moment.astimezone(dt.UTC))) is phase


def test_phase_table_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        regular_session(dt.date(2025, 6, 2)).phase_at(dt.datetime(2025, 6, 2, 10, 0))


def test_vi_thresholds() -> None:
    assert vi_thresholds(SessionPhase.CONTINUOUS) == (Decimal("0.10"), Decimal("0.06"))
    assert vi_thresholds(SessionPhase.CONTINUOUS, kospi200=True)[1] == Decimal("0.03")
    assert vi_thresholds(SessionPhase.CLOSING_AUCTION, kospi200=True)[1] == Decimal("0.02")
    assert vi_thresholds(SessionPhase.CLOSING_AUCTION)[1] == Decimal("0.04")
    assert vi_thresholds(SessionPhase.OPENING_AUCTION)[1] is None


def test_change_sign() -> None:
    limits = price_limits(10_000, Market.KOSPI, NEW)
    assert change_sign(limits[1], 10_000, limits) == "1"
    assert change_sign(10_010, 10_000, limits) == "2"
    assert change_sign(10_000, 10_000, limits) == "3"
    assert change_sign(limits[0], 10_000, limits) == "4"
    assert change_sign(9_990, 10_000, limits) == "5"
