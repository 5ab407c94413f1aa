"""Replay fidelity of the simulator on a real minute file (no network, in-process Exchange).

For each day of the file and each start time, builds a simulator replaying the file started at
that time, runs it past the close, and counts bars that differ from the real ones:
- ka10080: every minute bar the exchange serves for the day (bars before the start included) and
  for the trading day before it (a past day served from history);
- ticks: the 0B ticks streamed after the start, aggregated by apps/market/aggregator.py, for the
  bars that end after the first whole minute after the start.
Goal: 0 differing bars. Also prints bars no tape can reproduce (volume below the number of
prices the bar must show; none in the Samsung file).

Run: .venv/bin/python bench/replay_fidelity.py [--file PATH] [--day YYYY-MM-DD] [--starts 0830,1100,1600]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.broker.simulator.dto import Tick
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.fidelity import compare, real_bars, served_bars, tick_bars
from apps.broker.simulator.pricing import bar_representable
from apps.broker.simulator.universe import load_minutes
from apps.market.aggregator import MinuteAggregator
from krx import KST, regular_session

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "shared/data/krx/minute"


def new_aggregator(code: str, day: dt.date) -> MinuteAggregator:
    return MinuteAggregator(code, regular_session(day))


def _default_file() -> Path:
    files = sorted(DEFAULT_FILE.glob("*.csv")) if DEFAULT_FILE.is_dir() else []
    if not files:
        raise SystemExit(f"no minute file under {DEFAULT_FILE}; pass --file")
    return files[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=None)
    ap.add_argument("--day", type=dt.date.fromisoformat, default=None)
    ap.add_argument("--starts", default="0830,1100,1600")
    args = ap.parse_args()
    path = args.file or _default_file()
    rows = load_minutes(path)
    starts = [dt.time(int(s[:2]), int(s[2:])) for s in args.starts.split(",")]
    keys = sorted(k for k in rows if args.day is None or k[1] == args.day)
    if not keys:
        raise SystemExit("no such day in the file")
    t0 = time.perf_counter()
    served = served_bad = ticked = tick_bad = past = past_bad = 0
    shown = 0
    for code, day in keys:
        real = real_bars(rows[(code, day)])
        for start_t in starts:
            start = dt.datetime.combine(day, start_t, tzinfo=KST)
            ex = Exchange(ExchangeConfig(pricing="replay", minute_path=path, start=start))
            ticks = [
                e for e in ex.advance(dt.datetime.combine(day, dt.time(15, 45), tzinfo=KST))
                if isinstance(e, Tick)
            ]  # fmt: skip
            got = served_bars(ex.minute_bars(code, 1, None, 1000), day)
            c = compare(real, got)
            served += c.compared + len(c.missing) + len(c.extra)
            served_bad += c.bad
            since = (start + dt.timedelta(minutes=1)).strftime("%H%M")
            t = compare(real, tick_bars(ticks, code, day, new_aggregator), since=since)
            ticked += t.compared + len(t.missing) + len(t.extra)
            tick_bad += t.bad
            prev_day = ex._engine.days.previous(day)
            if (code, prev_day) in rows:
                before = dt.datetime.combine(day, dt.time(0, 0), tzinfo=KST)
                p = compare(
                    real_bars(rows[(code, prev_day)]),
                    served_bars(ex.minute_bars(code, 1, before, 1000), prev_day),
                )
                past += p.compared + len(p.missing) + len(p.extra)
                past_bad += p.bad
            for name, comp in (("ka10080", c), ("ticks", t)):
                for item in (comp.differ + [(k, "missing", "") for k in comp.missing])[
                    : max(0, 5 - shown)
                ]:
                    shown += 1
                    print(f"  {code} {day} start {start_t:%H:%M} {name} differs: {item}")
    unrepresentable = sum(
        1
        for k in keys
        for r in rows[k]
        if not bar_representable((r.open, r.high, r.low, r.close, r.volume))
    )
    elapsed = time.perf_counter() - t0
    print(f"file: {path.name}; {len(keys)} day(s) x starts {args.starts}")
    print(f"ka10080 bars of the replayed day compared: {served:,}  differing: {served_bad}")
    print(f"ka10080 bars of the day before (history) compared: {past:,}  differing: {past_bad}")
    print(f"tick-aggregated bars compared: {ticked:,}  differing: {tick_bad}")
    print(f"real bars no tape can reproduce: {unrepresentable}")
    print(f"wall {elapsed:.1f} s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
