"""Ticks/s through the strategy engine on one core: 1-minute bars + session VWAP + opening range + both
built-in strategies, over 100 codes (goal ≥ 100,000 ticks/s).

A synthetic session (2025-01-15, 09:00–15:30 KST): 100 codes random-walk; a scan ranks 20 of them with
news scores (so the opening breakout really evaluates its rule on their ticks), a few condition entries
arrive, and the engine closes bars on the ticks' exchange time. Events are built before the clock starts;
the figure is events fed to `Engine.on_event` per second of one core (best of 3).

`--worst`: every code is a candidate within `top_n` (100) with a news score just below the threshold, so
no code ever enters and every tick runs the breakout rule as far as it goes (the news check comes last).

Run: .venv/bin/python bench/strategy_engine.py [n_ticks] [n_codes] [--worst]
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.strategy.engine.base import StrategySettings
from apps.strategy.engine.events import (
    Candidate,
    ConditionEvent,
    Event,
    NewsEvent,
    ScanEvent,
    TickEvent,
)
from apps.strategy.engine.runner import REGISTRY, build_engine
from krx import calendar as cal


def _settings(worst: bool) -> dict[str, StrategySettings]:
    out = {}
    for name, cls in REGISTRY.items():
        params = cls.schema.defaults()
        if name == "opening_breakout" and worst:
            params.update(top_n=100)
        if name == "condition_entry":
            params.update(condition_seqs=("1",), require_above_vwap=True)
        out[name] = StrategySettings(name, 1, True, 10_000_000, params)
    return out


def _events(n: int, n_codes: int, worst: bool) -> list[Event]:
    session = cal.session(dt.date(2025, 1, 15))
    rng = np.random.default_rng(11)
    codes = [f"{100000 + i:06d}" for i in range(n_codes)]
    open_ms = int(session.open.timestamp() * 1000)
    close_ms = int(session.close.timestamp() * 1000)
    ts = np.sort(rng.integers(open_ms, close_ms, n)).tolist()
    which = rng.integers(0, n_codes, n).tolist()
    steps = rng.integers(-1, 2, n).tolist()
    qty = rng.integers(1, 500, n).tolist()
    price = {c: 10_000 + 100 * i for i, c in enumerate(codes)}
    events: list[Event] = []
    scan_at = session.open + dt.timedelta(minutes=2)
    scanned = False
    cond_every = max(n // 50, 1)
    for i in range(n):
        at = dt.datetime.fromtimestamp(ts[i] / 1000, tz=dt.UTC)
        if not scanned and at >= scan_at:
            cands = tuple(
                Candidate(
                    c, c, r + 1, 10**10, Decimal(3), Decimal(5), price[c], 69 if worst else 80
                )
                for r, c in enumerate(codes if worst else codes[:20])
            )
            events.append(ScanEvent(at, cands))
            events.append(NewsEvent(codes[20], at, 90))
            scanned = True
        code = codes[which[i]]
        price[code] += 10 * steps[i]
        events.append(TickEvent(code, at, price[code], qty[i]))
        if i % cond_every == 0:
            events.append(ConditionEvent(code, at, "1", "급등", True, price[code]))
    return events


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    worst = "--worst" in sys.argv
    n = int(args[0]) if args else 1_000_000
    n_codes = int(args[1]) if len(args) > 1 else 100
    events = _events(n, n_codes, worst)
    ticks = sum(1 for e in events if type(e) is TickEvent)
    best = 0.0
    signals = 0
    for _ in range(3):
        engine = build_engine(_settings(worst))
        on_event = engine.on_event
        t0 = time.perf_counter()
        count = 0
        for event in events:
            count += len(on_event(event))
        elapsed = time.perf_counter() - t0
        best = max(best, ticks / elapsed)
        signals = count
    bars = sum(len(s.bars) for s in engine.market.states.values())
    load = os.getloadavg()[0]
    print(
        f"events: {len(events):,} ({ticks:,} ticks, {n_codes} codes)  bars: {bars:,}  "
        f"signals: {signals}"
    )
    mode = "every code a candidate, news below the threshold" if worst else "20 candidates, top 5"
    print(
        f"engine (bars + VWAP + opening range + 2 strategies; {mode}): {best:,.0f} ticks/s "
        f"(best of 3, one core, load {load:.2f})"
    )


if __name__ == "__main__":
    main()
