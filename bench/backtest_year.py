"""Wall time and memory of a one-year, 100-stock opening-leader backtest through the runner (issue 16).

The bars are synthetic (seeded random walks on the KRX tick grid, 381 a day per code, a few codes a day
given a morning surge in volume and price so that the ranking changes and breakouts happen), generated
day by day as the runner asks for them — as `selectors.iter_days` loads them — so memory holds one day of
bars, not the year. Every code gets a news item at 08:30 each day (score 50–95), so the news filter passes
for some leaders and fails for others. The database is not involved (loading and storing are measured by
the command, not here); the figure is the runner: scans, engine, sizing, risk check, exits, the broker.

Run: .venv/bin/python bench/backtest_year.py [--codes 100] [--days 245]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings")

import django

django.setup()

from apps.backtests.runner import DayInput, Instrument, RunSpec, run  # noqa: E402
from apps.strategy.engine.events import BarEvent, NewsEvent  # noqa: E402
from apps.strategy.engine.market import epoch_ms  # noqa: E402
from krx import KST, calendar, tick_round  # noqa: E402

START = dt.date(2025, 1, 2)


def trading_days(n: int) -> list[dt.date]:
    out, day = [], START
    while len(out) < n:
        if calendar.is_trading_day(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def gen_days(codes: list[str], days: list[dt.date], seed: int = 3) -> Iterator[DayInput]:
    rng = random.Random(seed)
    close = {c: rng.randrange(5_000, 200_000) for c in codes}
    for day in days:
        session = calendar.session(day)
        ends = []
        at = session.open + dt.timedelta(minutes=1)
        while at <= session.closing_auction:
            ends.append(at)
            at += dt.timedelta(minutes=1)
        ends.append(session.close)
        end_ms = [epoch_ms(end) for end in ends]  # as the stored bars load (`stored_bar_events`)
        bases = dict(close)
        leaders = set(rng.sample(codes, 5))
        bars: list[BarEvent] = []
        for code in codes:
            price, base = bases[code], bases[code]
            lo_lim, hi_lim = base * 7 // 10 + 1, base * 13 // 10 - 1
            surge = code in leaders
            for i, end in enumerate(ends):
                step = rng.gauss(0.0008 if surge and i < 60 else 0.0, 0.003)
                o = price
                price = tick_round(min(max(int(price * (1 + step)), lo_lim), hi_lim), "KOSPI", day)
                high = max(o, price)
                low = min(o, price)
                vol = rng.randint(2_000, 20_000) * (8 if surge and i < 60 else 1)
                bars.append(BarEvent(code, end, o, high, low, price, vol, end_ms=end_ms[i]))
            close[code] = price
        news = [
            NewsEvent(c, dt.datetime.combine(day, dt.time(8, 30), tzinfo=KST), rng.randint(50, 95))
            for c in codes
        ]
        yield DayInput(day, bars, bases, {}, news)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=100)
    parser.add_argument("--days", type=int, default=245)
    args = parser.parse_args()
    codes = [f"{100000 + i:06d}" for i in range(args.codes)]
    days = trading_days(args.days)
    spec = RunSpec("opening_breakout", {"top_n": 5, "news_threshold": 70})
    instruments = [Instrument(c, c, "KOSPI") for c in codes]
    started = time.perf_counter()
    cpu = time.process_time()
    result = run(spec, instruments, gen_days(codes, days), total_days=len(days))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trades = result.books.trades
    print(
        f"opening_breakout, {args.codes} codes × {len(days)} days ({days[0]}…{days[-1]}): "
        f"{result.bars:,} bars, {len(trades):,} trades, P&L {sum(t.pnl for t in trades):,} KRW"
    )
    print(f"  wall {wall:.1f} s (CPU {cpu:.1f} s; bar generation included), "
          f"{result.bars / wall:,.0f} bars/s; peak RSS {rss:,.0f} MiB")  # fmt: skip
    print(f"  signals {dict(sorted(result.signals.items()))}")


if __name__ == "__main__":
    main()
