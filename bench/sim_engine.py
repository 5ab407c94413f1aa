"""Throughput of the simulator's market/matching engine (no network).

Prints: ticks generated per second for the whole built-in universe over a full session (one
advance call, and in 6-second slices as the protocol server drives it at --speed 60), orders
placed+matched per second against the synthesised book, and resting orders filled by the tape.
Run: .venv/bin/python bench/sim_engine.py
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.broker.simulator.dto import OrderEvent, OrderStatus, Tick
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from krx import KST, step_ticks

DAY = dt.date(2025, 6, 2)


def at(h: int, m: int) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=KST)


def build(**kw: object) -> Exchange:
    return Exchange(
        ExchangeConfig(
            seed=1, start=at(8, 59), use_krx_calendar=False, accounts=("5000000010",), **kw
        )
    )


def bench_ticks() -> None:
    ex = build()
    n = len(ex.instruments())
    t0, c0 = time.perf_counter(), time.process_time()
    events = ex.advance(at(15, 31))
    dt_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    ticks = sum(isinstance(e, Tick) for e in events)
    print(f"universe: {n} stocks; full session: {ticks:,} ticks, {len(events):,} events")
    print(
        f"ticks/s (one advance):        {ticks / dt_s:,.0f} wall, {ticks / cpu_s:,.0f} per CPU-second"
    )

    ex = build()
    t = at(8, 59)
    ticks = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while t < at(15, 31):
        t += dt.timedelta(seconds=6)  # 100 ms of wall time at speed 60
        ticks += sum(isinstance(e, Tick) for e in ex.advance(t))
    dt_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"ticks/s (6 s slices):         {ticks / dt_s:,.0f} wall, {ticks / cpu_s:,.0f} per CPU-second"
    )


def bench_orders() -> None:
    ex = build(start_cash=10**15)
    ex.advance(at(10, 0))
    codes = [i.code for i in ex.instruments()]
    n = 20_000
    t0, c0 = time.perf_counter(), time.process_time()
    fills = 0
    for i in range(n):
        code = codes[i % len(codes)]
        q = ex.quote(code)
        side = "buy" if i % 2 == 0 else "sell"
        if side == "sell" and ex.orderable_qty("5000000010", "sell", code) < 10:
            side = "buy"
        price = q.best_ask if side == "buy" else q.best_bid
        ex.place_order("5000000010", side, code, 10, price)
        fills += sum(
            isinstance(e, OrderEvent) and e.status is OrderStatus.FILLED
            for e in ex.advance(ex.now())
        )
    dt_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"orders/s placed+matched at the touch: {n / dt_s:,.0f} wall, "
        f"{n / cpu_s:,.0f} per CPU-second ({fills:,} fills)"
    )

    ex = build(start_cash=10**15)
    ex.advance(at(9, 30))
    for i in range(n):
        code = codes[i % len(codes)]
        q = ex.quote(code)
        ex.place_order("5000000010", "buy", code, 1, step_ticks(q.price, -(i % 3), q.market, DAY))
    t0 = time.perf_counter()
    events = ex.advance(at(15, 31))
    dt_s = time.perf_counter() - t0
    filled = sum(isinstance(e, OrderEvent) and e.status is OrderStatus.FILLED for e in events)
    print(
        f"resting orders filled by the tape: {filled:,} fills in {dt_s:.2f} s incl. the session's ticks"
    )


if __name__ == "__main__":
    bench_ticks()
    bench_orders()
