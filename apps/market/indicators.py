"""Bar indicators: session VWAP, VWAP bands, ATR and Bollinger bands.

Each indicator exists twice with the same arithmetic: a vectorised function over a bar frame
(backtests, charts) and an incremental class with `update(bar)` (live). Tests hold them to the
same numbers. Indicator values are floats (they are statistics, not amounts of money).

Conventions:
- VWAP resets at each KST trading day. A bar's volume is priced at its traded value when the bar
  has one (`value` > 0), else at its typical price (high + low + close) / 3 — the minute files
  carry no traded value.
- VWAP bands: VWAP +- k x the volume-weighted standard deviation of the typical price.
- ATR: Wilder's, seeded with the simple mean of the first `n` true ranges; the first true range
  is high - low.
- Bollinger: simple moving average of the close +- k x the population (ddof=0) standard deviation
  over `n` bars.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from krx import KST


class BarLike(Protocol):
    @property
    def high(self) -> int: ...
    @property
    def low(self) -> int: ...
    @property
    def close(self) -> int: ...
    @property
    def volume(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Bands:
    middle: float
    upper: float
    lower: float


# ---- vectorised ---------------------------------------------------------------------------


def _session_keys(index: pd.Index) -> np.ndarray:
    return pd.DatetimeIndex(index).tz_convert(KST).date


def _priced_volume(bars: pd.DataFrame) -> pd.Series:
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    priced = typical * bars["volume"]
    if "value" in bars:
        value = bars["value"].astype("float64")
        priced = value.where(value.fillna(0) > 0, priced)
    return priced


def vwap(bars: pd.DataFrame) -> pd.Series:
    """Session VWAP after each bar; `bars` is indexed by aware bar-end time."""
    keys = _session_keys(bars.index)
    cum_value = _priced_volume(bars).groupby(keys).cumsum()
    cum_volume = bars["volume"].astype("float64").groupby(keys).cumsum()
    return (cum_value / cum_volume.where(cum_volume > 0)).rename("vwap")


def vwap_bands(bars: pd.DataFrame, k: float = 2.0) -> pd.DataFrame:
    keys = _session_keys(bars.index)
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    volume = bars["volume"].astype("float64")
    cum_volume = volume.groupby(keys).cumsum()
    cum_sq = (typical * typical * volume).groupby(keys).cumsum()
    mid = vwap(bars)
    var = (cum_sq / cum_volume.where(cum_volume > 0) - mid * mid).clip(lower=0.0)
    std = np.sqrt(var)
    return pd.DataFrame({"middle": mid, "upper": mid + k * std, "lower": mid - k * std})


def true_range(bars: pd.DataFrame) -> pd.Series:
    prev_close = bars["close"].shift(1)
    ranges = pd.concat(
        [
            bars["high"] - bars["low"],
            (bars["high"] - prev_close).abs(),
            (bars["low"] - prev_close).abs(),
        ],
        axis=1,
    )
    return ranges.max(axis=1).astype("float64").rename("tr")


def atr(bars: pd.DataFrame, n: int = 14) -> pd.Series:
    tr = true_range(bars)
    out = pd.Series(np.nan, index=bars.index, name="atr")
    if len(tr) < n:
        return out
    seeded = tr.iloc[n - 1 :].copy()
    seeded.iloc[0] = tr.iloc[:n].mean()
    # Wilder's smoothing is an EMA with alpha 1/n started from the seed.
    out.iloc[n - 1 :] = seeded.ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return out


def bollinger(bars: pd.DataFrame, n: int = 20, k: float = 2.0) -> pd.DataFrame:
    close = bars["close"].astype("float64")
    mid = close.rolling(n).mean()
    std = close.rolling(n).std(ddof=0)
    return pd.DataFrame({"middle": mid, "upper": mid + k * std, "lower": mid - k * std})


# ---- incremental --------------------------------------------------------------------------


def _bar_day(bar: object) -> dt.date | None:
    end = getattr(bar, "end", None)
    return end.astimezone(KST).date() if isinstance(end, dt.datetime) else None


class Vwap:
    """Session VWAP (and its bands); resets when a bar of a new KST day arrives."""

    def __init__(self, k: float = 2.0) -> None:
        self.k = k
        self._day: dt.date | None = None
        self._value = 0.0
        self._volume = 0.0
        self._sq = 0.0
        self.value: float | None = None
        self.bands: Bands | None = None

    def update(self, bar: BarLike) -> float | None:
        day = _bar_day(bar)
        if day != self._day:
            self._day, self._value, self._volume, self._sq = day, 0.0, 0.0, 0.0
        typical = (bar.high + bar.low + bar.close) / 3.0
        volume = float(bar.volume)
        traded = getattr(bar, "value", None)
        self._value += float(traded) if traded else typical * volume
        self._volume += volume
        self._sq += typical * typical * volume
        if self._volume <= 0:
            self.value = self.bands = None
            return None
        mid = self._value / self._volume
        std = math.sqrt(max(self._sq / self._volume - mid * mid, 0.0))
        self.value = mid
        self.bands = Bands(mid, mid + self.k * std, mid - self.k * std)
        return mid


class Atr:
    def __init__(self, n: int = 14) -> None:
        self.n = n
        self._prev_close: float | None = None
        self._seed: list[float] = []
        self.value: float | None = None

    def update(self, bar: BarLike) -> float | None:
        high, low = float(bar.high), float(bar.low)
        tr = high - low
        if self._prev_close is not None:
            tr = max(tr, abs(high - self._prev_close), abs(low - self._prev_close))
        self._prev_close = float(bar.close)
        if self.value is None:
            self._seed.append(tr)
            if len(self._seed) == self.n:
                self.value = sum(self._seed) / self.n
            return self.value
        alpha = 1.0 / self.n
        self.value = (1.0 - alpha) * self.value + alpha * tr
        return self.value


class Bollinger:
    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        self.n = n
        self.k = k
        self._window: deque[float] = deque(maxlen=n)
        self.value: Bands | None = None

    def update(self, bar: BarLike) -> Bands | None:
        self._window.append(float(bar.close))
        if len(self._window) < self.n:
            return None
        mean = sum(self._window) / self.n
        std = math.sqrt(sum((x - mean) ** 2 for x in self._window) / self.n)
        self.value = Bands(mean, mean + self.k * std, mean - self.k * std)
        return self.value
