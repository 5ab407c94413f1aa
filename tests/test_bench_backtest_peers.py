"""bench/backtest_peers.py on handmade bars: our side of the MA crossover (the bench's strategy through the
live engine and the BacktestBroker) trades where the rule says, at the next bar's open; the bars it
generates lie on the KRX tick grid inside each day's limits; the fill comparison with a peer that fills
one bar earlier lines up. (The bench's speed is printed by the bench, never asserted here.)"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from krx import KST, Market, calendar, is_on_tick, price_limits

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2025, 6, 2)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "backtest_peers", ROOT / "bench" / "backtest_peers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["backtest_peers"] = module
    spec.loader.exec_module(module)
    return module


def rows_of(closes: list[int], day: dt.date = DAY) -> list[tuple[int, int, int, int, int, int]]:
    """One bar a minute from 09:01 KST, each opening at the previous close."""
    out, prev = [], closes[0]
    for i, close in enumerate(closes):
        end = dt.datetime.combine(day, dt.time(9, 1), tzinfo=KST) + dt.timedelta(minutes=i)
        ns = int(end.timestamp()) * 1_000_000_000
        out.append((ns, prev, max(prev, close), min(prev, close), close, 10_000))
        prev = close
    return out


def test_ours_buys_on_the_cross_up_and_sells_on_the_cross_down_at_the_next_open(
    bench: ModuleType,
) -> None:
    # MA 2/3: bar 3 is the first judged (fast = slow: not above); bar 4 crosses up (115 > 110 in
    # hundreds), bar 6 crosses down (110 < 116.7); each fills at the following bar's open.
    closes = [10_000, 10_000, 10_000, 10_300, 10_300, 9_900, 9_900, 9_900]
    rows = rows_of(closes)
    _, fills = bench.run_ours(bench.prepare_ours(rows), 2, 3, 7)
    assert fills == [[rows[4][0], 1, 10_300, 7], [rows[6][0], -1, 9_900, 7]]
    assert bench.round_trips(fills) == (1, (9_900 - 10_300) * 7)


def test_a_cross_on_the_last_bar_is_never_filled_by_ours(bench: ModuleType) -> None:
    rows = rows_of([10_000, 10_000, 10_000, 10_300])
    assert bench.run_ours(bench.prepare_ours(rows), 2, 3, 1)[1] == []


def test_a_signal_at_a_days_closing_bar_fills_at_the_next_days_first_open(
    bench: ModuleType,
) -> None:
    def row(day: dt.date, hhmm: str, o: int, c: int) -> tuple[int, int, int, int, int, int]:
        end = dt.datetime.combine(day, dt.time(int(hhmm[:2]), int(hhmm[2:])), tzinfo=KST)
        return (int(end.timestamp()) * 1_000_000_000, o, max(o, c), min(o, c), c, 10_000)

    nxt = calendar.next_trading_day(DAY)
    rows = [
        row(DAY, "1518", 10_000, 10_000),
        row(DAY, "1519", 10_000, 10_000),
        row(DAY, "1520", 10_000, 10_000),
        row(DAY, "1530", 10_000, 10_300),  # the closing bar crosses up
        row(nxt, "0901", 10_350, 10_350),
    ]
    _, fills = bench.run_ours(bench.prepare_ours(rows), 2, 3, 3)
    assert fills == [[rows[4][0], 1, 10_350, 3]]


def test_every_fill_on_generated_bars_is_at_the_open_of_its_bar(bench: ModuleType) -> None:
    rows = bench.make_rows(381 * 3)
    _, fills = bench.run_ours(bench.prepare_ours(rows), 5, 20, 10)
    by_end = {r[0]: r for r in rows}
    assert fills and fills[0][1] == 1
    assert all(f[1] == (1 if i % 2 == 0 else -1) and f[3] == 10 for i, f in enumerate(fills))
    assert all(price == by_end[end][1] for end, _, price, _ in fills)


def test_the_generated_bars_are_on_the_tick_grid_inside_the_limits(bench: ModuleType) -> None:
    rows = bench.make_rows(2_000)
    assert rows == bench.make_rows(2_000)  # deterministic
    assert len(rows) == 2_000
    base = rows[0][1]
    day = None
    for ns, o, h, lo, c, v in rows:
        end = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone(KST)
        if end.date() != day:
            assert calendar.is_trading_day(end.date())
            limits = price_limits(base, Market.KOSPI, end.date())
            day = end.date()
        assert lo <= min(o, c) <= max(o, c) <= h and v > 0
        assert limits[0] <= lo and h <= limits[1]
        assert all(is_on_tick(p, Market.KOSPI, end.date()) for p in (o, h, lo, c))
        base = c


def test_compare_lines_up_a_peer_that_fills_one_bar_earlier(bench: ModuleType) -> None:
    ends = [60, 120, 180, 240]
    ours = [[120, 1, 100, 1], [240, -1, 110, 1]]
    peer = [[60, 1, 100, 1], [180, -1, 110, 1], [240, 1, 120, 1]]
    note = bench.compare(ours, peer, ends, 1)
    assert note.startswith("2 of its 3 fills equal ours")
    assert "1 more than ours at the end (buy" in note
    assert bench.compare(ours, ours, ends, 0).startswith("2 of its 2 fills equal ours")
