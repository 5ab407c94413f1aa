"""Market data for the demo: the simulator's instruments and the bars of the session(s) before the one it
replays, so the chart and the bars page have data on first start.

The simulated market is deterministic for a seed and a day (`KIWOOM_SIM_SEED`, `KIWOOM_SIM_DATE`), so the
broker backends read its history in-process (`backends.simulator_history`: no HTTP, no rate limit) instead of
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

from apps.broker import backends
from apps.broker.contract import Instrument as BrokerInstrument
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


def demo_market_seed(day: dt.date | None = None, *, force: bool = False) -> DemoSeed:
    """Load the simulator's instruments, DAILY_HISTORY daily bars and MINUTE_SESSIONS sessions of minute
    bars before `day` (the replayed day). Idempotent; skipped when the last session is already stored
    (unless `force`)."""
    day = day or replay_day()
    sessions = _sessions_before(day, MINUTE_SESSIONS)
    if not force and DailyBar.objects.filter(date=sessions[-1]).exists():
        return DemoSeed(0, 0, 0, tuple(sessions), skipped=True)
    history = backends.simulator_history(
        day, daily_days=DAILY_HISTORY, minute_sessions=MINUTE_SESSIONS
    )
    daily: list[services.DailyRow] = []
    prev: dict[str, int] = {}
    for b in history.daily:  # oldest first per code: the previous row's close is the previous close
        daily.append(
            services.DailyRow(
                b.code, b.day, b.open, b.high, b.low, b.close, b.volume, b.value_krw,
                prev.get(b.code),
            )
        )  # fmt: skip
        prev[b.code] = b.close
    by_code: dict[str, list] = {}
    for m in history.minute:
        by_code.setdefault(m.code, []).append(m)
    minute = [
        bar
        for code, rows in by_code.items()
        for bar in normalise_minute_bars(code, rows, set(sessions))
    ]
    with transaction.atomic():
        _store_instruments(history.instruments)
        d = services.daily_bars_upsert(daily, "demo daily", overwrite=False).changed
        m = services.minute_bars_upsert(minute, "demo minute", overwrite=False).changed
    return DemoSeed(len(history.instruments), d, m, tuple(sessions))


def _store_instruments(items: Iterable[BrokerInstrument]) -> None:
    objs = [
        Instrument(
            code=i.code,
            name=i.name,
            market=Market(str(i.market)) if i.market else Market.OTHER,
            sector=i.sector,
            listed_shares=i.listed_shares,
            listing_date=i.listing_date,
        )
        for i in items
    ]
    Instrument.objects.bulk_create(objs, ignore_conflicts=True)
