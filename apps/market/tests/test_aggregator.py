"""The streaming aggregator against the vectorised resample on the same tick streams."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.market.aggregator import MinuteAggregator, epoch_ms, opening_range, resample_ticks
from krx import calendar as cal

SESSION = cal.session(dt.date(2025, 2, 3))
LATE_OPEN = cal.session(dt.date(2025, 1, 2))


def random_ticks(session: cal.Session, n: int, seed: int) -> pd.DataFrame:
    """A tick stream spanning pre-open to after-hours, on the 100-won grid, sorted in time."""
    rng = np.random.default_rng(seed)
    start = epoch_ms(session.pre_open)
    stop = epoch_ms(session.close) + 20 * 60_000
    ts = np.sort(rng.integers(start, stop, n))
    price = 70_000 + 100 * np.cumsum(rng.integers(-1, 2, n))
    qty = rng.integers(1, 500, n) * rng.choice([-1, 1], n)
    return pd.DataFrame({"ts_ms": ts, "price": price, "qty": qty})


def stream(ticks: pd.DataFrame, session: cal.Session) -> tuple[MinuteAggregator, list, list]:
    agg = MinuteAggregator("005930", session)
    bars, vwaps = [], []
    for ts, price, qty in ticks.itertuples(index=False):
        done = agg.on_clock(int(ts))
        if done is not None:
            bars.append(done)
            vwaps.append(agg.vwap)
        done = agg.on_tick(int(ts), int(price), int(qty))
        assert done is None  # on_clock already closed every finished minute
    last = agg.flush()
    if last is not None:
        bars.append(last)
        vwaps.append(agg.vwap)
    return agg, bars, vwaps


@pytest.mark.parametrize(("session", "seed"), [(SESSION, 1), (SESSION, 2), (LATE_OPEN, 3)])
def test_streaming_matches_vectorised(session: cal.Session, seed: int) -> None:
    ticks = random_ticks(session, 20_000, seed)
    agg, bars, vwaps = stream(ticks, session)
    ref = resample_ticks(ticks, session)

    got = pd.DataFrame(
        [(b.end, b.open, b.high, b.low, b.close, b.volume, b.value) for b in bars],
        columns=["end", "open", "high", "low", "close", "volume", "value"],
    ).set_index("end")
    got.index = pd.DatetimeIndex(got.index).as_unit("ns")
    expected = ref[["open", "high", "low", "close", "volume", "value"]]
    expected.index = expected.index.as_unit("ns")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_index_type=False)
    np.testing.assert_allclose(vwaps, ref["vwap"].to_numpy(), rtol=1e-12)

    assert bars[-1].end == session.close
    assert all(b.end in set(session.minute_bar_ends()) for b in bars)
    assert agg.vwap == pytest.approx(ref["vwap"].iloc[-1], rel=1e-12)
    assert float(agg.strength) == pytest.approx(ref["strength"].iloc[-1])
    assert agg.opening_range == opening_range(ref, session)
    in_session = (ticks.ts_ms >= epoch_ms(session.open)) & (
        ticks.ts_ms < epoch_ms(session.close) + 60_000
    )
    assert agg.ignored_ticks == int((~in_session).sum()) > 0
    assert agg.volume == int(ref["volume"].sum())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 400 * 60_000),  # ms after 09:00 KST, runs past the close
            st.integers(1, 2_000).map(lambda p: p * 50),
            st.integers(-1_000, 1_000).filter(bool),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_property_bars_equal_resample_without_clock(raw: list[tuple[int, int, int]]) -> None:
    open_ms = epoch_ms(SESSION.open)
    rows = sorted((open_ms + off, p, q) for off, p, q in raw)
    ticks = pd.DataFrame(rows, columns=["ts_ms", "price", "qty"])
    agg = MinuteAggregator("000660", SESSION)
    bars = [b for t in rows if (b := agg.on_tick(*t)) is not None]
    if (last := agg.flush()) is not None:
        bars.append(last)
    ref = resample_ticks(ticks, SESSION)
    assert [(b.open, b.high, b.low, b.close, b.volume, b.value) for b in bars] == [
        tuple(int(v) for v in row)
        for row in ref[["open", "high", "low", "close", "volume", "value"]].itertuples(index=False)
    ]
    assert sum(b.volume for b in bars) == agg.volume


def kst_ms(hh: int, mm: int, ss: int = 0) -> int:
    return epoch_ms(dt.datetime(2025, 2, 3, hh, mm, ss, tzinfo=cal.KST))


def test_bar_is_emitted_when_its_minute_ends() -> None:
    agg = MinuteAggregator("005930", SESSION)
    assert agg.on_tick(kst_ms(9, 0, 0), 70_000, 100) is None  # opening auction print
    assert agg.on_tick(kst_ms(9, 0, 30), 70_100, -50) is None
    assert agg.on_clock(kst_ms(9, 0, 59)) is None
    bar = agg.on_clock(kst_ms(9, 1, 0))
    assert bar is not None
    assert bar.end == dt.datetime(2025, 2, 3, 9, 1, tzinfo=cal.KST)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        70_000,
        70_100,
        70_000,
        70_100,
        150,
    )
    assert bar.value == 70_000 * 100 + 70_100 * 50
    assert agg.strength == 200
    # A tick for a minute already emitted is late: counted in the session, not in the bar.
    assert agg.on_tick(kst_ms(9, 0, 59), 70_000, 10) is None
    assert agg.late_ticks == 1
    assert agg.volume == 160


def test_closing_auction_is_one_bar_labelled_with_the_close() -> None:
    agg = MinuteAggregator("005930", SESSION)
    agg.on_tick(kst_ms(15, 19, 10), 70_000, 1)
    done = agg.on_tick(kst_ms(15, 30, 0), 70_500, 9_000)  # the auction print
    assert done is not None and done.end == dt.datetime(2025, 2, 3, 15, 20, tzinfo=cal.KST)
    assert agg.on_clock(kst_ms(15, 30, 30)) is None  # waits for a late-stamped print
    assert agg.on_tick(kst_ms(15, 40, 0), 70_500, 5) is None  # after-hours: not a regular bar
    assert agg.ignored_ticks == 1
    close_bar = agg.on_clock(kst_ms(15, 31, 0))
    assert close_bar is not None
    assert close_bar.end == SESSION.close and close_bar.volume == 9_000


def test_pre_open_ticks_are_ignored_and_strength_needs_sells() -> None:
    agg = MinuteAggregator("005930", SESSION)
    agg.on_tick(kst_ms(8, 35), 69_000, 10)  # 장전 시간외
    assert agg.ignored_ticks == 1 and agg.volume == 0
    assert agg.vwap is None and agg.strength is None and agg.opening_range is None


def test_on_trade_takes_broker_tick_events() -> None:
    from dataclasses import dataclass as _dc

    from apps.broker.contract import Side

    @_dc
    class FakeTick:
        at: dt.datetime | None
        price: int
        quantity: int
        aggressor: Side | None

    agg = MinuteAggregator("005930", SESSION)
    at = dt.datetime(2025, 2, 3, 9, 0, 5, tzinfo=cal.KST)
    agg.on_trade(FakeTick(at, 70_000, 30, Side.BUY))
    agg.on_trade(FakeTick(at, 70_100, 10, Side.SELL))
    agg.on_trade(FakeTick(at, 70_000, 5, None))
    agg.on_trade(FakeTick(None, 70_000, 5, Side.BUY))
    assert (agg.buy_volume, agg.sell_volume, agg.volume, agg.ignored_ticks) == (30, 10, 45, 1)
    assert agg.strength == 300
    bar = agg.flush()
    assert bar is not None and bar.volume == 45 and bar.high == 70_100
