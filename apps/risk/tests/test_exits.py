"""The pure exit evaluator: every exit kind, its boundaries, precedence, and the exit's limit price.
Table-driven: a row = position and price in, the expected exit out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import krx
from apps.risk.exits import (
    ExitKind,
    HeldPosition,
    evaluate,
    exit_limit_price,
    time_exit_at,
)
from apps.risk.policy import ExitPolicy

DAY = dt.date(2025, 2, 4)
CLOSE = dt.datetime.combine(DAY, dt.time(15, 30), tzinfo=krx.KST)
MORNING = dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=krx.KST)

FULL = ExitPolicy(
    stop_loss_pct=Decimal("-3"),
    take_profit_pct=Decimal("5"),
    trailing_stop_pct=Decimal("2"),
    exit_before_close_minutes=10,
)
STOP_ONLY = ExitPolicy(stop_loss_pct=Decimal("-3"), exit_before_close_minutes=None)


def pos(avg: int = 10_000, high: int | None = None, qty: int = 10) -> HeldPosition:
    return HeldPosition("005930", qty, Decimal(avg), high)


@pytest.mark.parametrize(
    ("position", "price", "policy", "expected"),
    [
        # stop-loss: 10,000 × 0.97 = 9,700 exactly triggers; one won above does not
        (pos(), 9_700, STOP_ONLY, ExitKind.STOP_LOSS),
        (pos(), 9_701, STOP_ONLY, None),
        (pos(), 5_000, STOP_ONLY, ExitKind.STOP_LOSS),
        # a fractional threshold: avg 10,001 → 9,700.97: 9,700 triggers, 9,701 does not
        (pos(10_001), 9_700, STOP_ONLY, ExitKind.STOP_LOSS),
        (pos(10_001), 9_701, STOP_ONLY, None),
        # take-profit: 10,500 exactly
        (pos(high=10_500), 10_500, FULL, ExitKind.TAKE_PROFIT),
        (pos(high=10_499), 10_499, FULL, None),
        # trailing: high 10,400 → 10,192: triggers at 10,192, not at 10,193
        (pos(high=10_400), 10_192, FULL, ExitKind.TRAILING_STOP),
        (pos(high=10_400), 10_193, FULL, None),
        # the stop wins over the trailing stop when both apply
        (pos(high=10_400), 9_600, FULL, ExitKind.STOP_LOSS),
        # a new high at this tick moves the trailing threshold: no exit on the way up
        (pos(high=10_000), 10_300, FULL, None),
        # no trailing without the policy's trailing stop
        (pos(high=20_000), 10_000, STOP_ONLY, None),
        # nothing held: nothing to sell
        (pos(qty=0), 1_000, FULL, None),
    ],
)
def test_price_exits(position, price, policy, expected) -> None:  # type: ignore[no-untyped-def]
    decision = evaluate(position, price, MORNING, CLOSE, policy)
    assert (decision.kind if decision else None) == expected
    if decision is not None:
        assert decision.price == price and decision.reason


def test_trailing_without_a_known_high_starts_from_the_average_price() -> None:
    # high unknown (a fresh position): max(avg, price) stands in
    decision = evaluate(pos(high=None), 9_800, MORNING, CLOSE, FULL)
    assert decision is not None and decision.kind is ExitKind.TRAILING_STOP


@pytest.mark.parametrize(
    ("at", "fires"),
    [
        (dt.time(15, 19, 59), False),
        (dt.time(15, 20), True),  # the threshold moment itself
        (dt.time(15, 29, 59), True),
        (dt.time(15, 30), False),  # closed: nothing can be sold
    ],
)
def test_time_exit_boundaries(at: dt.time, fires: bool) -> None:
    now = dt.datetime.combine(DAY, at, tzinfo=krx.KST)
    decision = evaluate(pos(), 10_000, now, CLOSE, FULL)
    assert (decision is not None and decision.kind is ExitKind.TIME_EXIT) is fires
    # The timer path: no price at all.
    decision = evaluate(pos(), None, now, CLOSE, FULL)
    assert (decision is not None and decision.kind is ExitKind.TIME_EXIT) is fires


def test_time_exit_follows_the_csat_close() -> None:
    # 수능 day: the session closes at 16:30, so 15:25 is no time exit and 16:20 is one.
    from krx.calendar import CSAT_DAYS, session

    day = sorted(d for d in CSAT_DAYS if d.year == 2025)[0]
    close = session(day).close
    assert close.astimezone(krx.KST).time() == dt.time(16, 30)
    early = dt.datetime.combine(day, dt.time(15, 25), tzinfo=krx.KST)
    late = dt.datetime.combine(day, dt.time(16, 20), tzinfo=krx.KST)
    assert evaluate(pos(), 10_000, early, close, FULL) is None
    decision = evaluate(pos(), 10_000, late, close, FULL)
    assert decision is not None and decision.kind is ExitKind.TIME_EXIT
    assert time_exit_at(close, FULL) == close - dt.timedelta(minutes=10)


def test_no_time_exit_without_a_session_or_policy() -> None:
    late = dt.datetime.combine(DAY, dt.time(15, 25), tzinfo=krx.KST)
    assert evaluate(pos(), 10_000, late, None, FULL) is None
    assert evaluate(pos(), 10_000, late, CLOSE, STOP_ONLY) is None


def test_price_exit_beats_time_exit() -> None:
    late = dt.datetime.combine(DAY, dt.time(15, 25), tzinfo=krx.KST)
    decision = evaluate(pos(), 9_000, late, CLOSE, FULL)
    assert decision is not None and decision.kind is ExitKind.STOP_LOSS


@pytest.mark.parametrize(
    ("reference", "slip", "lower", "expected"),
    [
        (70_000, Decimal("1"), None, 69_300),  # on the grid (tick 100 from 50,000)
        (70_050, Decimal("1"), None, 69_400),  # 69,349.5 → rounded up to 69,400
        (70_000, Decimal("1"), 69_500, 69_500),  # never below the lower limit
        (1_000, Decimal("0"), None, 1_000),
    ],
)
def test_exit_limit_price(reference: int, slip: Decimal, lower: int | None, expected: int) -> None:
    price = exit_limit_price(reference, slip, lower, "KOSPI", DAY)
    assert price == expected
    assert krx.is_on_tick(price, "KOSPI", DAY)
