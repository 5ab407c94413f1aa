"""The stop shown for a position (`effective_stop`) is exactly the evaluator's trigger on the tick grid:
a trade at it sells by the stop-loss or the trailing stop, a trade one tick above it does not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import krx
from apps.risk.exits import ExitKind, HeldPosition, effective_stop, evaluate
from apps.risk.policy import ExitPolicy

DAY = dt.date(2025, 2, 4)
OLD_DAY = dt.date(2022, 6, 2)  # the pre-2023 tick tables
CLOSE = dt.datetime.combine(DAY, dt.time(15, 30), tzinfo=krx.KST)
MORNING = dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=krx.KST)
STOPS = (ExitKind.STOP_LOSS, ExitKind.TRAILING_STOP)


def policy(stop: str = "-3", trail: str | None = None) -> ExitPolicy:
    return ExitPolicy(
        stop_loss_pct=Decimal(stop),
        trailing_stop_pct=None if trail is None else Decimal(trail),
        exit_before_close_minutes=None,
    )


@pytest.mark.parametrize(
    ("avg", "high", "p", "market", "day", "expected"),
    [
        # 70,000 × 0.97 = 67,900, on the 100-won grid
        (Decimal(70_000), None, policy(), "KOSPI", DAY, 67_900),
        # 70,001 × 0.97 = 67,900.97 → 67,900
        (Decimal(70_001), None, policy(), "KOSPI", DAY, 67_900),
        # 10,001 × 0.97 = 9,700.97 → 9,700 (10-won grid)
        (Decimal(10_001), None, policy(), "KOSDAQ", DAY, 9_700),
        # 10,350 × 0.97 = 10,039.5 → 10,000 (50-won grid above 10,000 before 2023 on KOSPI)
        (Decimal(10_350), None, policy(), "KOSPI", OLD_DAY, 10_000),
        # trailing 2% of a 73,000 high = 71,540 above the stop (67,900) → 71,500
        (Decimal(70_000), 73_000, policy(trail="2"), "KOSPI", DAY, 71_500),
        # a high under the average: the trail follows the average (68,600), above the stop
        (Decimal(70_000), 65_000, policy(trail="2"), "KOSPI", DAY, 68_600),
        # a wide trail under the stop: the stop
        (Decimal(70_000), 71_000, policy(trail="10"), "KOSPI", DAY, 67_900),
        # an unknown market (an ETF row, say) uses the KOSPI grid
        (Decimal(70_000), None, policy(), "ETF", DAY, 67_900),
        # nothing held at a price
        (Decimal(0), None, policy(), "KOSPI", DAY, None),
    ],
)
def test_effective_stop(avg, high, p, market, day, expected) -> None:  # type: ignore[no-untyped-def]
    assert effective_stop(avg, high, p, market, day) == expected


def _decision(avg: Decimal, high: int | None, price: int, p: ExitPolicy) -> ExitKind | None:
    found = evaluate(HeldPosition("005930", 10, avg, high), price, MORNING, CLOSE, p)
    return None if found is None else found.kind


def test_a_trade_at_the_stop_sells_and_one_tick_above_does_not() -> None:
    avg, high, p = Decimal("70123.45"), 74_250, policy(trail="3")
    stop = effective_stop(avg, high, p, "KOSPI", DAY)
    assert stop == 72_000  # 74,250 × 0.97 = 72,022.5 → 72,000
    assert _decision(avg, high, stop, p) is ExitKind.TRAILING_STOP
    above = krx.step_ticks(stop, 1, "KOSPI", DAY)
    assert above == 72_100
    assert _decision(avg, high, above, p) is None


@given(
    avg=st.integers(1_000, 2_000_000).map(lambda v: Decimal(v) / 100 * 100 + Decimal("0.37")),
    rise=st.integers(0, 300),
    stop=st.integers(1, 30),
    trail=st.one_of(st.none(), st.integers(1, 30)),
    market=st.sampled_from(["KOSPI", "KOSDAQ"]),
    day=st.sampled_from([DAY, OLD_DAY]),
)
def test_the_shown_stop_is_the_evaluators_trigger(avg, rise, stop, trail, market, day) -> None:  # type: ignore[no-untyped-def]
    p = policy(str(-stop), None if trail is None else str(trail))
    high = int(avg) * (100 + rise) // 100
    shown = effective_stop(avg, high, p, market, day)
    assert shown is not None and krx.is_on_tick(shown, market, day)
    assert _decision(avg, high, shown, p) in STOPS
    assert _decision(avg, high, krx.step_ticks(shown, 1, market, day), p) not in STOPS
