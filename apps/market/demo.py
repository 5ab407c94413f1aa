"""Market data for the demo: the simulator's instruments and the bars of the session(s) before the one it
replays, so the chart and the bars page have data on first start.

The simulated market is deterministic for a seed and a day (`KIWOOM_SIM_SEED`, `KIWOOM_SIM_DATE`), so the
seeding builds the same market in-process and reads its history directly (no HTTP, no rate limit) instead of
waiting for the simulator process: `runstack` seeds before it starts the processes. Bars are only added
(never replaced) and a finished seeding is detected by the last session's daily bar, so a restart costs
nothing. Measured on the shared, busy 2-CPU development machine: 7-15 s on first start (building the market
~3 s, reading ~0.5 s, writing 20,955 minute and 3,300 daily bars for 55 stocks), 5 ms afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from apps.market import services
from apps.market.backfill import normalise_minute_bars
from apps.market.models import DailyBar, Instrument, Market
from krx import KST, calendar

DAILY_HISTORY = 60  # trading days of daily bars before the replayed day
MINUTE_SESSIONS = (
    1  # completed sessions of minute bars before the replayed day (the chart shows one)
)


@dataclass(frozen=True)
class DemoSeed:
    instruments: int
    daily_bars: int
    minute_bars: int
    sessions: tuple[dt.date, ...]
    skipped: bool = False


@dataclass(frozen=True)
class _MinuteRow:
    # What backfill.normalise_minute_bars reads: the bar's END time and its prices.
    at: dt.datetime
    open: int
    high: int
    low: int
    close: int
    volume: int


def replay_day() -> dt.date:
    """The day the simulator replays (KIWOOM_SIM_DATE, else today in KST)."""
    raw = getattr(settings, "KIWOOM_SIM_DATE", "") or ""
    return dt.date.fromisoformat(raw) if raw else dt.datetime.now(KST).date()


def _sessions_before(day: dt.date, count: int) -> list[dt.date]:
    out: list[dt.date] = []
    d = day
    while len(out) < count:
        d = calendar.previous_trading_day(d)
        out.append(d)
    return sorted(out)


def demo_market_seed(day: dt.date | None = None, exchange=None) -> DemoSeed:
    """Load the simulator's instruments, DAILY_HISTORY daily bars and MINUTE_SESSIONS sessions of minute
    bars before `day` (the replayed day). Idempotent; skipped when the last session is already stored."""
    day = day or replay_day()
    sessions = _sessions_before(day, MINUTE_SESSIONS)
    last = sessions[-1]
    if exchange is None and DailyBar.objects.filter(date=last).exists():
        return DemoSeed(0, 0, 0, tuple(sessions), skipped=True)
    if exchange is None:
        exchange = _build_exchange(day)
    instruments = list(exchange.instruments())
    _store_instruments(instruments)
    daily: list[services.DailyRow] = []
    minute = []
    before = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0, 0), tzinfo=KST)
    for inst in instruments:
        for b in exchange.daily_bars(inst.code, last, DAILY_HISTORY):
            daily.append(
                services.DailyRow(
                    inst.code, b.date, b.open, b.high, b.low, b.close, b.volume, b.value,
                    b.prev_close or None,
                )
            )  # fmt: skip
        rows = exchange.minute_bars(inst.code, 1, before, 381 * (MINUTE_SESSIONS + 1))
        minute.extend(normalise_minute_bars(inst.code, _minute_rows(rows), set(sessions)))
    with transaction.atomic():
        d = services.daily_bars_upsert(daily, "demo ka10081", overwrite=False).changed
        m = services.minute_bars_upsert(minute, "demo ka10080", overwrite=False).changed
    return DemoSeed(len(instruments), d, m, tuple(sessions))


def _minute_rows(bars: Iterable) -> list[_MinuteRow]:
    # The engine stamps a bar with its START; our bars (and Kiwoom's ka10080 rows) carry the END.
    return [
        _MinuteRow(
            b.time + dt.timedelta(minutes=b.minutes), b.open, b.high, b.low, b.close, b.volume
        )
        for b in bars
    ]


def _store_instruments(items: Iterable) -> None:
    objs = [
        Instrument(
            code=i.code,
            name=i.name,
            market=Market.KOSPI if str(i.market) == "KOSPI" else Market.KOSDAQ,
            sector=getattr(i, "industry", "") or "",
            listed_shares=i.listed_shares,
            listing_date=i.listing_date,
        )
        for i in items
    ]
    Instrument.objects.bulk_create(objs, ignore_conflicts=True)


def _build_exchange(day: dt.date):
    from apps.broker.simulator.adapter import build_exchange

    start = dt.datetime.combine(day, dt.time(8, 0), tzinfo=KST)
    options = {"seed": int(getattr(settings, "KIWOOM_SIM_SEED", 7))}
    return build_exchange([], start=start, **options)
