"""The bundled simulator's past market, read in-process without the simulator running.

The simulated market is deterministic for a seed and a day, so the demo can load the instruments and the bars
of the sessions before the replayed day before the stack starts (`seed_demo`), in the broker contract's types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from apps.broker.contract import DailyBar, Instrument, MinuteBar
from krx import KST
from krx.markets import Market


@dataclass(frozen=True)
class SimulatorHistory:
    instruments: list[Instrument]
    daily: list[DailyBar]  # oldest first per code
    minute: list[MinuteBar]  # `at` is the bar's END (as ka10080 rows carry it)


def simulator_history(day: dt.date, *, daily_days: int, minute_sessions: int) -> SimulatorHistory:
    """Instruments, `daily_days` daily bars and `minute_sessions` sessions of minute bars before `day`."""
    from apps.broker.simulator.adapter import build_exchange

    start = dt.datetime.combine(day, dt.time(8, 0), tzinfo=KST)
    exchange = build_exchange([], start=start, seed=int(settings.KIWOOM_SIM_SEED))
    before = dt.datetime.combine(day, dt.time(0, 0), tzinfo=KST)
    last = day - dt.timedelta(days=1)
    instruments, daily, minute = [], [], []
    for inst in exchange.instruments():
        market = Market(str(getattr(inst.market, "value", inst.market)))
        instruments.append(
            Instrument(
                code=inst.code, name=inst.name, market=market, market_name=str(market),
                listed_shares=inst.listed_shares, listing_date=inst.listing_date,
                previous_close=inst.prev_close, sector=inst.industry or "", size_class="",
            )
        )  # fmt: skip
        for b in reversed(exchange.daily_bars(inst.code, last, daily_days)):
            daily.append(
                DailyBar(inst.code, b.date, b.open, b.high, b.low, b.close, b.volume, b.value)
            )
        for b in exchange.minute_bars(inst.code, 1, before, 381 * (minute_sessions + 1)):
            end = b.time + dt.timedelta(minutes=b.minutes)  # the engine stamps a bar's start
            minute.append(MinuteBar(inst.code, end, b.open, b.high, b.low, b.close, b.volume))
    return SimulatorHistory(instruments, daily, minute)
