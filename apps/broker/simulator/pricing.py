"""Price and volume paths of the simulated market, deterministic for a seed.

A trading day of one stock is a `DayPath`: the opening single-price auction (09:00), 380
continuous minute bars (09:00-15:20) and the closing single-price auction (15:30). Paths come from
(a) replayed minute bars, (b) a bridge through a real day's open/high/low/close with a U-shaped
volume profile, or (c) a seeded synthetic daily bar fed into (b). Trades inside a minute are drawn
from the minute bar by `minute_ticks`. Every price is on the tick grid and inside the day's limits.

Randomness: every draw comes from `random.Random` seeded with a string built from the seed, the
code and the date (string seeds hash with SHA-512, so they are stable across processes).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

from krx import Market, price_limits, tick_round

from .dto import Instrument
from .universe import MinuteRow

N_MINUTES = 380  # continuous session 09:00-15:20
OPEN = dt.time(9, 0)


@dataclass(slots=True)
class DayPath:
    code: str
    day: dt.date
    base: int
    limits: tuple[int, int]
    open_price: int
    open_volume: int
    bars: list[tuple[int, int, int, int, int]]  # (open, high, low, close, volume) per minute
    close_price: int
    close_volume: int
    # Replayed from real minute bars: the tape reproduces them exactly (no simulated VI).
    replayed: bool = False

    def ohlcv(self) -> tuple[int, int, int, int, int]:
        highs = [b[1] for b in self.bars if b[4] > 0] + [self.open_price, self.close_price]
        lows = [b[2] for b in self.bars if b[4] > 0] + [self.open_price, self.close_price]
        volume = self.open_volume + self.close_volume + sum(b[4] for b in self.bars)
        return self.open_price, max(highs), min(lows), self.close_price, volume


def rng_for(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def _grid(price: float, market: Market, day: dt.date, limits: tuple[int, int]) -> int:
    p = tick_round(max(1, round(price)), market, day, "nearest")
    return min(max(p, limits[0]), limits[1])


@functools.cache
def volume_profile() -> tuple[float, ...]:
    """U-shaped weights of the 380 continuous minutes (sum 1): heavy first half hour, a smaller
    rise into the close (the closing auction volume is separate)."""
    raw = [
        1.0 + 2.6 * math.exp(-m / 18.0) + 0.9 * math.exp(-(N_MINUTES - 1 - m) / 22.0)
        for m in range(N_MINUTES)
    ]
    total = sum(raw)
    return tuple(w / total for w in raw)


@functools.cache
def cumulative_profile() -> tuple[float, ...]:
    """Share of a day's volume traded by the end of each continuous minute, incl. ~3 % opening
    auction and ~9 % closing auction (used for 'previous day to the same time')."""
    out = []
    acc = 0.03
    for w in volume_profile():
        acc += w * 0.88
        out.append(acc)
    return tuple(out)


def synthetic_daily(
    inst: Instrument, base: int, day: dt.date, seed: int, close: int | None = None
) -> tuple[int, int, int, int, int]:
    """A plausible daily bar (open, high, low, close, volume) around `base`, or ending at `close`
    when given (history generated backwards). Fat tails: ~5 % of days are big movers."""
    rng = rng_for(seed, inst.code, day.isoformat(), "daily")
    sigma = 0.018 if inst.market is Market.KOSPI else 0.028
    if inst.kospi200:
        sigma *= 0.85
    u = rng.random()
    if u < 0.05:
        r = rng.uniform(0.05, 0.29)
    elif u < 0.07:
        r = -rng.uniform(0.05, 0.2)
    else:
        r = rng.gauss(0.0, sigma)
    limits = price_limits(base, inst.market, day)
    c = _grid(base * (1 + r), inst.market, day, limits) if close is None else close
    gap = rng.gauss(0.0, sigma * 0.35) + (0.3 * r if abs(r) > 0.05 else 0.0)
    o = _grid(base * (1 + gap), inst.market, day, limits)
    h = _grid(max(o, c) * (1 + abs(rng.gauss(0.0, sigma * 0.4))), inst.market, day, limits)
    lo = _grid(min(o, c) * (1 - abs(rng.gauss(0.0, sigma * 0.4))), inst.market, day, limits)
    h, lo = max(h, o, c), min(lo, o, c)
    volume = int(inst.typical_volume * math.exp(rng.gauss(0.0, 0.3)) * (1 + 6 * abs(r)))
    return o, h, lo, c, max(volume, 1)


def _bridge(rng: random.Random, a: float, b: float, steps: int, sigma: float) -> list[float]:
    """Brownian bridge from a to b in `steps` steps (returns steps+1 points)."""
    walk = [0.0]
    for _ in range(steps):
        walk.append(walk[-1] + rng.gauss(0.0, sigma))
    end = walk[-1]
    return [a + (b - a) * i / steps + walk[i] - end * i / steps for i in range(steps + 1)]


def path_from_daily(
    code: str,
    market: Market,
    day: dt.date,
    base: int,
    ohlcv: tuple[int, int, int, int, int],
    seed: int,
    salt: str = "",
) -> DayPath:
    """Intraday path through a day's open/high/low/close with its volume, U-shaped."""
    o, h, lo, c, v = ohlcv
    limits = price_limits(base, market, day)
    o, h, lo, c = (min(max(p, limits[0]), limits[1]) for p in (o, h, lo, c))
    h, lo = max(h, o, c), min(lo, o, c)
    rng = rng_for(seed, code, day.isoformat(), "path", salt)
    n = N_MINUTES
    low_first = rng.random() < (0.65 if c >= o else 0.35)
    t1 = rng.randint(3, int(n * 0.6))
    t2 = rng.randint(t1 + 3, n - 3)
    e1, e2 = (lo, h) if low_first else (h, lo)
    sigma = max((h - lo) / 40.0, 1e-9)
    points: list[float] = []
    for (ta, pa), (tb, pb) in zip(
        [(0, o), (t1, e1), (t2, e2)], [(t1, e1), (t2, e2), (n, c)], strict=True
    ):
        seg = _bridge(rng, pa, pb, tb - ta, sigma)
        points.extend(seg if not points else seg[1:])
    xs = [_grid(min(max(p, lo), h), market, day, limits) for p in points]

    open_share = rng.uniform(0.02, 0.04)
    close_share = rng.uniform(0.06, 0.12)
    open_volume = int(v * open_share)
    close_volume = int(v * close_share)
    cont = v - open_volume - close_volume
    weights = [
        w * math.exp(rng.gauss(0.0, 0.35)) * (1 + 4 * abs(xs[m + 1] - xs[m]) / max(h - lo, 1))
        for m, w in enumerate(volume_profile())
    ]
    total_w = sum(weights)
    vols = [int(cont * w / total_w) for w in weights]
    vols[-1] += cont - sum(vols)

    bars = []
    tick_room = max((h - lo) // 20, 0)
    for m in range(n):
        bo, bc = xs[m], xs[m + 1]
        bh = max(bo, bc) + (rng.randint(0, tick_room) if tick_room else 0)
        bl = min(bo, bc) - (rng.randint(0, tick_room) if tick_room else 0)
        bh = min(_grid(bh, market, day, limits), h)
        bl = max(_grid(bl, market, day, limits), lo)
        bars.append((bo, max(bh, bo, bc), min(bl, bo, bc), bc, vols[m]))
    return DayPath(code, day, base, limits, o, open_volume, bars, c, close_volume)


def path_from_minutes(
    code: str, market: Market, day: dt.date, base: int, rows: list[MinuteRow]
) -> DayPath:
    """Replay of real minute bars (time_hhmm = bar END minute). The 0901 bar includes the opening
    auction (assumed 30 % of its volume); the 1530 bar is the closing auction."""
    limits = price_limits(base, market, day)
    by_end = {r.hhmm: r for r in rows}
    first = rows[0]
    open_row = by_end.get("0901", first)
    open_price = open_row.open
    open_volume = int(open_row.volume * 0.3) if "0901" in by_end else 0
    bars = []
    last = open_price
    for m in range(N_MINUTES):
        end = dt.datetime.combine(day, OPEN) + dt.timedelta(minutes=m + 1)
        row = by_end.get(end.strftime("%H%M"))
        if row is None or row.volume <= 0:
            bars.append((last, last, last, last, 0))
            continue
        vol = row.volume - open_volume if m == 0 else row.volume
        clamp = [
            min(max(p, limits[0]), limits[1]) for p in (row.open, row.high, row.low, row.close)
        ]
        bars.append((clamp[0], clamp[1], clamp[2], clamp[3], max(vol, 0)))
        last = clamp[3]
    close_row = by_end.get("1530")
    close_price = close_row.close if close_row else last
    close_volume = close_row.volume if close_row else 0
    return DayPath(
        code, day, base, limits, open_price, open_volume, bars, close_price, close_volume, True
    )


def bar_key_prices(bar: tuple[int, int, int, int, int], low_first: bool) -> list[int]:
    """The fewest prints that make `bar` exactly: the open, the extremes the open and close do
    not already show (low before high when `low_first`), the close."""
    o, h, lo, c, _v = bar
    key = [o]
    for x in (lo, h) if low_first else (h, lo):
        if x not in (o, c) and x != key[-1]:
            key.append(x)
    if c != key[-1]:
        key.append(c)
    return key


def minute_ticks(
    rng: random.Random,
    bar: tuple[int, int, int, int, int],
    avg_minute_volume: int,
    max_ticks: int = 10,
) -> list[tuple[int, int, int]]:
    """Trades inside one minute bar: sorted (millisecond offset, price, volume) that aggregate to
    the bar exactly. The first print is at the open and the last at the close; the high and the
    low come in between (low first on ~65 % of up bars, ~35 % of down bars); fillers repeat those
    four prices; every print has at least one share and the volumes sum to the bar's volume.

    A bar whose volume is smaller than the number of prices it must show cannot be printed on a
    real tape (a 1-share bar with two prices); it keeps its open, close and as many extremes as
    its volume allows (`bar_representable` tells such bars apart)."""
    o, h, lo, c, v = bar
    if v <= 0:
        return []
    key = bar_key_prices(bar, rng.random() < (0.65 if c >= o else 0.35))
    if v < len(key):
        key = [key[0]] if v == 1 else [*key[: v - 1], key[-1]]
    n = min(max(min(max_ticks, 1 + v // max(1, avg_minute_volume // 4)), len(key)), v)
    prices = key
    choices = (o, h, lo, c)
    for _ in range(n - len(key)):
        # Strictly after the open and before the close, so both stay where they are.
        prices.insert(rng.randint(1, max(1, len(prices) - 1)), rng.choice(choices))
    offsets = sorted(rng.randrange(0, 60_000) for _ in range(n))
    cuts = sorted(rng.sample(range(1, v), n - 1)) if n > 1 else []
    bounds = [0, *cuts, v]
    vols = [bounds[i + 1] - bounds[i] for i in range(n)]
    return list(zip(offsets, prices, vols, strict=True))


def bar_representable(bar: tuple[int, int, int, int, int]) -> bool:
    """True when `minute_ticks` reproduces the bar exactly: it has at least one share for each
    price it must show."""
    v = bar[4]
    return v <= 0 or v >= max(len(bar_key_prices(bar, True)), len(bar_key_prices(bar, False)))


class TradingDays:
    """Sorted KRX trading days (krx.calendar / exchange-calendars XKRX), with a weekday
    fallback outside the calendar's range."""

    def __init__(self, use_calendar: bool = True, cache_dir: str | Path | None = None) -> None:
        self._days: list[dt.date] = []
        if not use_calendar:
            return
        try:
            from krx import calendar

            today = dt.date.today()  # noqa: DTZ011 - only bounds the cached range
            self._days = calendar.trading_days(
                dt.date(2005, 1, 3),
                today + dt.timedelta(days=360),
                cache_dir=Path(cache_dir) if cache_dir else None,
            )
        except Exception:  # pragma: no cover - calendar unavailable
            logging.getLogger(__name__).warning(
                "KRX calendar unavailable; every weekday counts as a trading day", exc_info=True
            )
            self._days = []

    def is_trading_day(self, day: dt.date) -> bool:
        if self._days and self._days[0] <= day <= self._days[-1]:
            i = bisect.bisect_left(self._days, day)
            return i < len(self._days) and self._days[i] == day
        return day.weekday() < 5

    def previous(self, day: dt.date) -> dt.date:
        d = day - dt.timedelta(days=1)
        while not self.is_trading_day(d):
            d -= dt.timedelta(days=1)
        return d

    def next(self, day: dt.date) -> dt.date:
        d = day + dt.timedelta(days=1)
        while not self.is_trading_day(d):
            d += dt.timedelta(days=1)
        return d

    def on_or_after(self, day: dt.date) -> dt.date:
        return day if self.is_trading_day(day) else self.next(day)
