"""Ticks/s through the streaming 1-minute aggregator with session VWAP and 체결강도, one core.

Run: .venv/bin/python bench/market_aggregator.py [n_ticks]
"""

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.market.aggregator import MinuteAggregator, epoch_ms
from krx import calendar as cal


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    session = cal.session(dt.date(2025, 2, 3))
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(epoch_ms(session.open), epoch_ms(session.close), n)).tolist()
    price = (70_000 + 100 * np.cumsum(rng.integers(-1, 2, n))).tolist()
    qty = (rng.integers(1, 500, n) * rng.choice([-1, 1], n)).tolist()
    ticks = list(zip(ts, price, qty, strict=True))

    best = 0.0
    for _ in range(3):
        agg = MinuteAggregator("005930", session)
        on_tick = agg.on_tick
        bars = 0
        t0 = time.perf_counter()
        for t, p, q in ticks:
            if on_tick(t, p, q) is not None:
                bars += 1
        vwap = agg.vwap
        elapsed = time.perf_counter() - t0
        best = max(best, n / elapsed)
    print(f"ticks: {n:,}  bars: {bars + 1}  vwap: {vwap:,.1f}  strength: {agg.strength}")
    print(f"aggregator + session VWAP: {best:,.0f} ticks/s (best of 3, one core)")

    agg = MinuteAggregator("005930", session)
    on_tick = agg.on_tick
    t0 = time.perf_counter()
    for t, p, q in ticks:
        on_tick(t, p, q)
        _ = agg.vwap
    elapsed = time.perf_counter() - t0
    print(f"same, reading agg.vwap after every tick: {n / elapsed:,.0f} ticks/s")


if __name__ == "__main__":
    main()
