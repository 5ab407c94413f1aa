"""Bars/s of a moving-average crossover over 100,000 one-minute bars of one stock, on one core (issue 16;
goal ≥ 60,000 bars/s through the full backtest path).

The bars: a seeded random walk on the KRX tick grid, 381 bars a day (09:01 … 15:20 and the 15:30 closing
bar) over consecutive XKRX trading days from 2024-01-02, built before the clock starts. Two figures, best
of 3:

- `engine`: `BarEvent`s into the live strategy engine (`build_engine({"ma_cross": …})`, the shared market
  state: bars, VWAP) — the strategy path alone;
- `backtest`: the whole runner (`apps.backtests.runner.run`): the BacktestBroker matching every bar, the
  engine, the live sizing (`plan_order`), the live pre-trade check and exits, the books — what
  `manage.py backtest` runs per bar, without the database reads and writes.

The side-by-side comparison with backtrader and NautilusTrader (the same bars, the same crossing rule, the
fills compared one by one) is `bench/backtest_peers.py`.

Times are CPU seconds of the process (`time.process_time`): on the shared 2-core machine,
busy with other suites, wall time mostly measures the wait for a core.

Run: .venv/bin/python bench/backtest_speed.py [n_bars] [--fast 5] [--slow 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings")

import django

django.setup()

from apps.backtests.runner import DayInput, Instrument, RunSpec, run  # noqa: E402
from apps.strategy.engine import build_engine  # noqa: E402
from apps.strategy.engine.base import StrategySettings  # noqa: E402
from apps.strategy.engine.events import BarEvent  # noqa: E402
from krx import calendar  # noqa: E402

CODE = "005930"
START = dt.date(2024, 1, 2)


def make_days(n_bars: int, seed: int = 7) -> list[DayInput]:
    import random

    rng = random.Random(seed)
    days: list[DayInput] = []
    price = 70_000
    day = START
    left = n_bars
    while left > 0:
        while not calendar.is_trading_day(day):
            day += dt.timedelta(days=1)
        session = calendar.session(day)
        ends = []
        at = session.open + dt.timedelta(minutes=1)
        while at <= session.closing_auction:
            ends.append(at)
            at += dt.timedelta(minutes=1)
        ends.append(session.close)
        base = price
        bars = []
        for end in ends[:left]:
            o = price
            price = max(50_000, min(90_000, price + 100 * rng.randint(-3, 3)))
            price = min(max(price, base * 7 // 10 + 100), base * 13 // 10 - 100)
            high = max(o, price) + 100 * rng.randint(0, 2)
            low = min(o, price) - 100 * rng.randint(0, 2)
            bars.append(BarEvent(CODE, end, o, high, low, price, rng.randint(1_000, 30_000)))
        left -= len(bars)
        days.append(DayInput(day, bars, {CODE: base}))
        day += dt.timedelta(days=1)
    return days


def bench_engine(days: list[DayInput], params: dict[str, int]) -> tuple[float, int]:
    engine = build_engine({"ma_cross": StrategySettings("ma_cross", 1, True, 10_000_000, params)})
    on_event = engine.on_event
    signals = 0
    started = time.process_time()
    for data in days:
        for bar in data.bars:
            signals += len(on_event(bar))
    return time.process_time() - started, signals


def bench_backtest(days: list[DayInput], params: dict[str, int]) -> tuple[float, int, int]:
    spec = RunSpec("ma_cross", params, budget_krw=5_000_000, scan_window=None)
    started = time.process_time()
    result = run(spec, [Instrument(CODE, "삼성전자", "KOSPI")], days)
    elapsed = time.process_time() - started
    return (
        elapsed,
        len(result.books.trades),
        result.books.trades and sum(t.pnl for t in result.books.trades),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n_bars", nargs="?", type=int, default=100_000)
    parser.add_argument("--fast", type=int, default=5)
    parser.add_argument("--slow", type=int, default=20)
    args = parser.parse_args()
    params = {"fast": args.fast, "slow": args.slow}
    days = make_days(args.n_bars)
    n = sum(len(d.bars) for d in days)
    print(f"{n:,} one-minute bars of {CODE}, {len(days)} trading days from {days[0].day}; "
          f"MA {args.fast}/{args.slow}; best of 3, one core (CPU time)")  # fmt: skip
    best = min(bench_engine(days, params)[0] for _ in range(3))
    signals = bench_engine(days, params)[1]
    print(f"  engine    {n / best:>10,.0f} bars/s  ({best:.3f} s, {signals:,} signals)")
    runs = [bench_backtest(days, params) for _ in range(3)]
    best_bt = min(r[0] for r in runs)
    print(
        f"  backtest  {n / best_bt:>10,.0f} bars/s  ({best_bt:.3f} s, {runs[0][1]:,} trades, "
        f"P&L {runs[0][2]:,} KRW)"
    )
    ours = n / best_bt
    goal = 60_000
    print(f"  goal ≥ {goal:,} bars/s through the backtest: {'met' if ours >= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
