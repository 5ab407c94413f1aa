"""`BarEvent.end_ms`: a bar's time converted by its producer is the same bar to the engine."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory
from apps.strategy.engine.events import BarEvent
from apps.strategy.engine.market import epoch_ms
from apps.strategy.handler_support import stored_bar_events

from .engine_support import CODE, at, engine, run, scan

# A breakout day on minute bars (the opening range 10,100 / 9,950, then a close above it at 09:08).
BARS = [
    (1, 10_000, 10_000, 10_000, 10_000, 1_000),
    (2, 10_100, 10_100, 10_100, 10_100, 10),
    (3, 9_950, 9_950, 9_950, 9_950, 10),
    (4, 10_000, 10_000, 10_000, 10_000, 10),
    (5, 10_000, 10_000, 10_000, 10_000, 10),
    (6, 10_050, 10_050, 10_050, 10_050, 10),
    (7, 10_050, 10_050, 10_050, 10_050, 10),
    (8, 10_050, 10_160, 10_050, 10_150, 10),
    (9, 10_150, 10_200, 10_100, 10_180, 20),
]


def _bars(with_ms: bool) -> list[BarEvent]:
    out = []
    for m, o, h, lo, c, v in BARS:
        end = at(9, m)
        out.append(BarEvent(CODE, end, o, h, lo, c, v, None, epoch_ms(end) if with_ms else 0))
    return out


def test_a_bar_with_its_time_in_ms_drives_the_engine_exactly_as_one_without() -> None:
    plain, converted = engine(opening_breakout={}), engine(opening_breakout={})
    signals_plain = run(plain, [scan(), *_bars(False)])
    signals_converted = run(converted, [scan(), *_bars(True)])
    assert signals_plain and signals_plain == signals_converted
    state_plain, state_converted = plain.market.state(CODE), converted.market.state(CODE)
    assert state_plain.bars == state_converted.bars
    assert (state_plain.cum_volume, state_plain.cum_value, state_plain.last_ms) == (
        state_converted.cum_volume,
        state_converted.cum_value,
        state_converted.last_ms,
    )


def test_end_ms_is_not_part_of_the_bars_identity() -> None:
    with_ms, without = _bars(True)[0], _bars(False)[0]
    assert with_ms == without and hash(with_ms) == hash(without)
    assert "end_ms" not in repr(with_ms)
    assert dataclasses.replace(without, end_ms=with_ms.end_ms).end_ms == with_ms.end_ms


def test_a_naive_bar_without_end_ms_is_still_refused() -> None:
    naive = BarEvent(CODE, dt.datetime(2025, 1, 20, 9, 1), 10_000, 10_000, 10_000, 10_000, 1)
    with pytest.raises(ValueError, match="naive"):
        run(engine(opening_breakout={}), [naive])


@pytest.mark.django_db
def test_stored_bars_load_with_their_time_in_ms() -> None:
    instrument = InstrumentFactory(code="005930")
    times = [dt.datetime(2025, 2, 3, 0, m, tzinfo=dt.UTC) for m in (1, 2, 3)]
    for time in times:
        MinuteBarFactory(instrument=instrument, time=time)
    events = stored_bar_events(["005930"], times[0] - dt.timedelta(minutes=1), times[-1])
    assert [e.end for e in events] == times
    assert [e.end_ms for e in events] == [epoch_ms(t) for t in times]
    assert all(e.end_ms == int(e.end.timestamp()) * 1000 for e in events)
