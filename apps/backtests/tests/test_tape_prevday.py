"""The tape mode's day before the run (README, "Fields that read the previous day"): the first day's
exchange reads the previous trading day's stored minute bars as its history, as a paper simulator
replaying a file that holds the day before does, so the condition fields that read the previous day
(`prev_volume`, `volume_ratio_prev_day`) are the same on the run's first day as in a run that replayed
that day too. Without a stored day before, the run says so. No database."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

import pytest

from apps.backtests.runner import DayInput, run
from apps.backtests.tape import TapeRun, prev_day_bars
from apps.broker.simulator.dto import ConditionEvent

from .test_parity import (
    CODE,
    DAY,
    INSTRUMENT,
    OHLCV,
    condition_settings,
    day_input,
    morning,
    spec_of,
)
from .test_parity import trades_of as fills_of

NEXT = DAY + dt.timedelta(days=1)  # 2025-02-05, a Wednesday: DAY is its previous trading day
SURGE = (
    "1"  # the shipped 전일대비 거래량 급증: volume_ratio_prev_day >= 200 and volume >= 50000 and …
)


def quiet(volume: int) -> dict[str, OHLCV]:
    """A flat day between 49,900 and 50,000 closing at 50,000 (NEXT's base), `volume` a minute."""
    bars: dict[str, OHLCV] = {}
    end = dt.datetime.combine(DAY, dt.time(9, 1))
    while end.time() <= dt.time(15, 20):
        o, c = (49_900, 50_000) if end.minute % 2 else (50_000, 49_900)
        bars[end.strftime("%H%M")] = (o, 50_000, 49_900, c, volume)
        end += dt.timedelta(minutes=1)
    bars["1530"] = (50_000, 50_000, 50_000, 50_000, volume * 10)
    return bars


def changes(days: list[DayInput]) -> tuple[int, list[ConditionEvent]]:
    """The last day's (the exchange's previous-day volume, condition changes) of a tape run over `days`
    with the exchange's checks on."""
    state = TapeRun(spec_of(settings=condition_settings(SURGE)), [INSTRUMENT], days)
    for data in days:
        state.day(data)
    return state.broker.exchange.quote(CODE).prev_volume, state.broker.exchange.condition_changes()


def on_next(fills: list) -> list:
    return [f for f in fills if f[0].date() == NEXT]


def first_surge(hits: list[ConditionEvent]) -> dt.datetime:
    return next(e.time for e in hits if e.seq == SURGE and e.kind == "I")


# 100 a minute: the surge condition enters at 09:06:20; 1,200: at 09:14:40 (the day before weighs more)
@pytest.mark.parametrize("volume", [100, 1_200])
def test_the_first_day_reads_the_stored_day_before_as_a_run_over_both_days(volume: int) -> None:
    """Day 2 of a run over both days and day 1 of a run over day 2 alone with day 1's stored bars as its
    day before: the same previous-day volume, the same condition entries and exits (times to the
    millisecond), the same trades of a condition entry on them."""
    before, today = day_input(DAY, quiet(volume)), day_input(NEXT, morning(NEXT))
    alone = replace(today, prev_bars=before.bars)
    prev_volume, hits = changes([before, today])
    assert prev_volume == sum(b.volume for b in before.bars)
    first_surge(hits)  # the surge condition fires
    assert changes([alone]) == (prev_volume, hits)
    spec = spec_of(settings=condition_settings(SURGE))
    both = on_next(fills_of(run(spec, [INSTRUMENT], [before, today])))
    result = run(spec, [INSTRUMENT], [alone])
    assert both and fills_of(result) == both and result.notes == []


def test_without_a_stored_day_before_the_run_says_so(caplog: pytest.LogCaptureFixture) -> None:
    today = day_input(NEXT, morning(NEXT))
    spec = spec_of(settings=condition_settings(SURGE))
    with caplog.at_level(logging.WARNING, logger="apps.backtests.tape"):
        result = run(spec, [INSTRUMENT], [today])
    assert result.notes == [
        "Day 1 (2025-02-05): no stored previous trading day (2025-02-04) for 1/1 codes (005930): "
        "their prev_volume / volume_ratio_prev_day read a simulator-generated day."
    ]
    assert "no stored previous trading day (2025-02-04) for 005930" in caplog.text
    # What the note warns of: the generated day is not the stored one, and the surge enters earlier
    # on it than with the stored day before (1,200 a minute)
    generated, hits = changes([today])
    stored, stored_hits = changes([replace(today, prev_bars=day_input(DAY, quiet(1_200)).bars)])
    assert generated != stored and first_surge(hits) < first_surge(stored_hits)
    # Stored bars that do not close at the day's base price (a corporate action, a gap in the data)
    # are not the day before either: the exchange generates it, and the run says so
    off = replace(today, prev_bars=day_input(DAY, quiet(100)).bars, bases={CODE: 50_100})
    assert len(run(spec, [INSTRUMENT], [off]).notes) == 1
    # The bar mode replays stored condition events: nothing to say
    assert run(replace(spec, fill_model="bars"), [INSTRUMENT], [today]).notes == []


def test_the_day_before_is_strictly_before_the_run_and_of_its_codes() -> None:
    """No look-ahead: bars of the first day or later are never the day before; of several earlier days,
    the latest; codes not trading on the first day are left out (the exchange would replay them)."""
    first = day_input(NEXT, morning(NEXT))
    earlier = day_input(DAY - dt.timedelta(days=1), quiet(5)).bars
    before = day_input(DAY, quiet(7)).bars
    other = [replace(b, code="000660") for b in before]
    data = replace(first, prev_bars=[*earlier, *before, *other, *first.bars])
    rows = prev_day_bars(data)
    assert {(r[0], r[1]) for r in rows} == {(CODE, DAY)}
    assert len(rows) == len(before) and sum(r[7] for r in rows) == sum(b.volume for b in before)
    assert prev_day_bars(replace(first, prev_bars=first.bars)) == []
