"""Vectorised and incremental indicators give the same numbers on the same bars."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from apps.market import indicators as ind
from apps.market.aggregator import Bar
from krx import calendar as cal


def make_bars(seed: int, with_value: bool) -> list[Bar]:
    """Two sessions of random-walk minute bars on the 100-won grid."""
    rng = np.random.default_rng(seed)
    bars: list[Bar] = []
    price = 70_000
    for day in (dt.date(2025, 2, 3), dt.date(2025, 2, 4)):
        for end in cal.session(day).minute_bar_ends():
            o = price
            c = max(100, o + 100 * int(rng.integers(-3, 4)))
            h = max(o, c) + 100 * int(rng.integers(0, 3))
            lo = min(o, c) - 100 * int(rng.integers(0, 3))
            v = int(rng.integers(0, 5_000)) if rng.random() > 0.02 else 0
            value = v * int(rng.integers(lo, h + 1)) if with_value else 0
            bars.append(Bar("005930", end, o, h, lo, c, v, value))
            price = c
    return bars


def frame(bars: list[Bar]) -> pd.DataFrame:
    df = pd.DataFrame(
        [(b.end, b.open, b.high, b.low, b.close, b.volume, b.value) for b in bars],
        columns=["end", "open", "high", "low", "close", "volume", "value"],
    )
    return df.set_index(pd.DatetimeIndex(df.pop("end")))


def assert_same(live: list[float | None], vec: pd.Series) -> None:
    live_arr = np.array([np.nan if x is None else x for x in live], dtype=float)
    np.testing.assert_allclose(live_arr, vec.to_numpy(dtype=float), rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("with_value", [True, False])
def test_vwap_and_bands_agree(with_value: bool) -> None:
    bars = make_bars(1, with_value)
    df = frame(bars)
    live = ind.Vwap(k=2.0)
    mids, uppers, lowers = [], [], []
    for bar in bars:
        live.update(bar)
        mids.append(live.value)
        uppers.append(live.bands.upper if live.bands else None)
        lowers.append(live.bands.lower if live.bands else None)
    bands = ind.vwap_bands(df, k=2.0)
    assert_same(mids, ind.vwap(df))
    assert_same(mids, bands["middle"])
    assert_same(uppers, bands["upper"])
    assert_same(lowers, bands["lower"])
    # It resets on the second day: the first bar of day two has its own price as VWAP.
    second = len(cal.session(dt.date(2025, 2, 3)).minute_bar_ends())
    first_bar = bars[second]
    if first_bar.volume and not with_value:
        typical = (first_bar.high + first_bar.low + first_bar.close) / 3
        assert mids[second] == pytest.approx(typical)


@pytest.mark.parametrize("n", [1, 5, 14])
def test_atr_agrees(n: int) -> None:
    bars = make_bars(2, True)
    live = ind.Atr(n)
    assert_same([live.update(b) for b in bars], ind.atr(frame(bars), n))


def test_atr_by_hand() -> None:
    end = dt.datetime(2025, 2, 3, 1, 0, tzinfo=dt.UTC)
    rows = [(10, 8, 9), (12, 9, 11), (11, 7, 8)]  # TR: 2, 3, 4
    bars = [Bar("X", end, 0, h, lo, c, 1, 0) for h, lo, c in rows]
    live = ind.Atr(2)
    assert [live.update(b) for b in bars] == [None, 2.5, (2.5 * 1 + 4) / 2]


@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (5, 1.5)])
def test_bollinger_agrees(n: int, k: float) -> None:
    bars = make_bars(3, False)
    live = ind.Bollinger(n, k)
    out = [live.update(b) for b in bars]
    vec = ind.bollinger(frame(bars), n, k)
    for col in ("middle", "upper", "lower"):
        assert_same([getattr(o, col) if o else None for o in out], vec[col])


def test_bollinger_flat_prices_have_zero_width() -> None:
    end = dt.datetime(2025, 2, 3, 1, 0, tzinfo=dt.UTC)
    live = ind.Bollinger(3, 2.0)
    for _ in range(3):
        bands = live.update(Bar("X", end, 100, 100, 100, 100, 1, 0))
    assert bands == ind.Bands(100.0, 100.0, 100.0)
