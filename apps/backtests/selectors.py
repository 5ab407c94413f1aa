"""Reads of the backtests app: the stored history a run replays, one trading day at a time.

- bars: `apps.market` `MinuteBar` rows of the day's session as the engine's `BarEvent`s (the fields the
  live handler's rebuild reads, `handler_support.rebuild_read`);
- the day's base price per code: the `DailyBar`'s `prev_close` (KRX's base, which already accounts for a
  split or other corporate action that day), else the previous trading day's stored close (daily bar,
  else the last minute bar seen), else the day's first open; the previous day's volume likewise (the
  scanner's volume ratio); for the tape mode, the first day also carries the previous trading day's
  minute bars (its exchange's day before, for the condition fields that read it; without that day's daily
  bar, its last minute close and its volume are the first day's base and previous volume);
- news: the `apps.news` `NewsItem`s of the codes from the day's midnight (KST) to its close, through the
  handler's own adapter (`feeds.news_event`: the item's publication time and score);
- condition events: the `apps.conditions` log of the day, through the handler's adapter
  (`handler_support.condition_event`).

The universe of a day is the codes that have bars that day (a code listed later or delisted earlier
simply has none), among the run's codes or its universe (`all`, `KOSPI`, `KOSDAQ`, `KONEX`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from apps.market.models import DailyBar, Instrument, MinuteBar
from apps.strategy import feeds
from apps.strategy.engine.events import BarEvent
from krx import KST, calendar

from .runner import DayInput
from .runner import Instrument as RunInstrument

__all__ = ["UNIVERSES", "days_of", "instruments_of", "iter_days", "universe_codes"]

UNIVERSES = ("all", "KOSPI", "KOSDAQ", "KONEX")
MARKETS = ("KOSPI", "KOSDAQ", "KONEX")


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(start, dt.time(0), tzinfo=KST),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=KST),
    )


def days_of(start: dt.date, end: dt.date) -> list[dt.date]:
    return calendar.trading_days(start, end)


def universe_codes(
    start: dt.date, end: dt.date, codes: Sequence[str] = (), universe: str = ""
) -> list[str]:
    """The run's codes: those given, else every code with minute bars in the range (of the market)."""
    if codes:
        return sorted(set(codes))
    low, high = _bounds(start, end)
    found = (
        MinuteBar.objects.filter(time__gt=low, time__lte=high)
        .values_list("instrument_id", flat=True)
        .distinct()
    )
    chosen = set(found)
    if universe and universe != "all":
        chosen &= set(
            Instrument.objects.filter(code__in=chosen, market=universe).values_list(
                "code", flat=True
            )
        )
    return sorted(chosen)


def instruments_of(codes: Sequence[str]) -> list[RunInstrument]:
    """The codes as the runner's instruments (an unknown market counts as KOSPI: the tick grid and
    the tax are the same for KOSPI and KOSDAQ)."""
    rows = {i.code: i for i in Instrument.objects.filter(code__in=list(codes))}
    out = []
    for code in codes:
        row = rows.get(code)
        market = row.market if row is not None and row.market in MARKETS else "KOSPI"
        out.append(RunInstrument(code, row.name if row is not None else "", market))
    return out


def _minute_bars(day: dt.date, codes: Sequence[str]) -> list[BarEvent]:
    from apps.strategy.handler_support import stored_bar_events

    low, high = _bounds(day, day)
    return stored_bar_events(codes, low, high)


def _news(day: dt.date, codes: Sequence[str]) -> list:
    from apps.news.models import NewsItem

    low = dt.datetime.combine(day, dt.time(0), tzinfo=KST)
    close = calendar.session(day).close
    rows = NewsItem.objects.filter(
        code__in=list(codes), published_at__gte=low, published_at__lt=close
    ).order_by("published_at", "id")
    return [feeds.news_event(row) for row in rows]


def _conditions(day: dt.date, codes: Sequence[str]) -> list:
    from apps.conditions.models import ConditionEvent as ConditionRow
    from apps.conditions.models import EventKind
    from apps.strategy.handler_support import condition_event

    low, high = _bounds(day, day)
    rows = (
        ConditionRow.objects.filter(code__in=list(codes), at__gte=low, at__lt=high)
        .select_related("condition")
        .order_by("at", "id")
    )
    return [condition_event(row, EventKind.ENTRY) for row in rows]


def iter_days(
    days: Sequence[dt.date], codes: Sequence[str], *, prev_bars: bool = False
) -> Iterator[DayInput]:
    """One `DayInput` per trading day, loaded lazily (a year of 100 codes never sits in memory).
    `prev_bars` (the tape mode): the first day carries the previous KRX trading day's stored minute
    bars of its codes (strictly before the run: no look-ahead)."""
    last_close: dict[str, int] = {}
    last_volume: dict[str, int] = {}
    before = calendar.previous_trading_day(days[0]) if days else None
    if before is not None:
        for row in DailyBar.objects.filter(instrument_id__in=list(codes), date=before):
            last_close[row.instrument_id] = row.close
            last_volume[row.instrument_id] = row.volume
    for day in days:
        bars = _minute_bars(day, codes)
        daily = {
            r.instrument_id: r
            for r in DailyBar.objects.filter(instrument_id__in=list(codes), date=day)
        }
        present = {b.code for b in bars}
        prev: list[BarEvent] = []
        if prev_bars and before is not None and day == days[0]:
            prev = [b for b in _minute_bars(before, sorted(present)) if b.code in present]
            _seed_from(prev, last_close, last_volume)
        bases: dict[str, int] = {}
        for code in present:
            row = daily.get(code)
            base = (row.prev_close if row is not None else None) or last_close.get(code)
            if not base:
                base = next(b.open for b in bars if b.code == code)
            bases[code] = base
        prev_volume = {c: v for c, v in last_volume.items() if c in present}
        yield DayInput(
            day, bars, bases, prev_volume, _news(day, codes), _conditions(day, codes), prev
        )
        for bar in bars:
            last_close[bar.code] = bar.close
        volumes: dict[str, int] = {}
        for bar in bars:
            volumes[bar.code] = volumes.get(bar.code, 0) + bar.volume
        for code in present:
            row = daily.get(code)
            last_close[code] = row.close if row is not None else last_close[code]
            last_volume[code] = row.volume if row is not None else volumes[code]


def _seed_from(bars: Sequence[BarEvent], close: dict[str, int], volume: dict[str, int]) -> None:
    """The previous day's close and volume of the codes without its daily bar, from its minute bars."""
    volumes: dict[str, int] = {}
    for bar in sorted(bars, key=lambda b: b.end):
        volumes[bar.code] = volumes.get(bar.code, 0) + bar.volume
        if bar.code not in volume:
            close[bar.code] = bar.close
    for code, total in volumes.items():
        volume.setdefault(code, total)
