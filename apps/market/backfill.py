"""Historical backfill through the broker contract, with session validation and a gap report.

Minute bars come from ka10080 (`Broker.minute_bars`, newest first, paged back from now; Kiwoom
keeps about one year), daily bars from ka10081 (`Broker.daily_bars`, paged back from a base
date). Backfill only FILLS: it inserts bars that are missing and never replaces a stored bar
(imported files carry exact traded values that the chart TRs round or omit).

Validation convention (see `calendar.Session.minute_bar_ends`): a full session has one bar per
minute of continuous trading labelled with its END minute plus ONE closing-auction bar labelled
with the close — 381 bars on a regular day (09:01 ... 15:20, 15:30), 321 on the 10:00-open
first day of the year, 381 on a CSAT day (10:01 ... 16:20, 16:30). Only sessions that have
closed are validated. Kiwoom does not document how it labels the closing-auction bar (the
simulator stamps it 15:31), so any fetched bar ending after the closing auction starts and up
to one minute past the close is folded into the close bar; bars outside the regular session
(e.g. NXT/after-hours bars) are dropped.

A missing minute is detected against that grid; repair re-fetches with a deeper page budget
(up to `max_repairs` times). What is still missing afterwards is reported, never invented:
an illiquid stock can have minutes without trades, which stay in the report.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from apps.broker.contract import Broker, BrokerError
from apps.market import selectors, services
from apps.market.aggregator import Bar
from krx import calendar

MINUTE_PAGE_ROWS = 900  # ka10080 rows per page (PROTOCOL.md §4.3)
DAILY_PAGE_ROWS = 600  # ka10081


@dataclass(frozen=True)
class DayGaps:
    code: str
    day: dt.date
    expected: int
    missing_before: int
    missing_after: tuple[dt.datetime, ...]

    @property
    def filled(self) -> int:
        return self.missing_before - len(self.missing_after)


@dataclass
class GapReport:
    days: list[DayGaps] = field(default_factory=list)
    daily_missing: dict[str, list[dt.date]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    inserted: int = 0

    @property
    def missing_minutes(self) -> int:
        return sum(len(d.missing_after) for d in self.days)

    @property
    def complete(self) -> bool:
        return not self.missing_minutes and not self.errors and not any(self.daily_missing.values())

    def lines(self) -> list[str]:
        out = []
        for d in self.days:
            if d.missing_before or d.missing_after:
                out.append(
                    f"{d.code} {d.day}: expected {d.expected}, missing {d.missing_before} "
                    f"before, filled {d.filled}, still missing {len(d.missing_after)}"
                    + (f" ({_ranges(d.missing_after)})" if d.missing_after else "")
                )
        for code, days in self.daily_missing.items():
            if days:
                out.append(f"{code} daily: missing {', '.join(x.isoformat() for x in days)}")
        out += [f"{code}: error: {msg}" for code, msg in self.errors.items()]
        checked = len(self.days)
        out.append(
            f"checked {checked} session(s), inserted {self.inserted} bar(s), "
            f"{self.missing_minutes} minute(s) still missing"
        )
        return out


def _ranges(ends: Sequence[dt.datetime]) -> str:
    """Compact KST ranges of missing bar ends: 09:05-09:07, 13:30."""
    parts: list[str] = []
    run: list[dt.datetime] = []
    for end in sorted(ends):
        if run and end - run[-1] != dt.timedelta(minutes=1):
            parts.append(_fmt(run))
            run = []
        run.append(end)
    if run:
        parts.append(_fmt(run))
    return ", ".join(parts)


def _fmt(run: list[dt.datetime]) -> str:
    first = run[0].astimezone(calendar.KST).strftime("%H:%M")
    if len(run) == 1:
        return first
    return f"{first}-{run[-1].astimezone(calendar.KST).strftime('%H:%M')}"


def completed_sessions(start: dt.date, end: dt.date, now: dt.datetime) -> list[dt.date]:
    """Trading days in [start, end] whose session (and closing print) is over at `now`."""
    grace = dt.timedelta(minutes=1)
    return [
        d for d in calendar.trading_days(start, end) if calendar.session(d).close + grace <= now
    ]


def normalise_minute_bars(code: str, rows: Iterable, days: set[dt.date]) -> list[Bar]:
    """Broker minute bars (aware `at` = bar end) -> Bars on the session grid of `days`."""
    merged: dict[dt.datetime, Bar] = {}
    for row in sorted(rows, key=lambda r: r.at):
        day = calendar.trading_day_of(row.at)
        if day not in days:
            continue
        s = calendar.session(day)
        end = row.at.astimezone(dt.UTC)
        if s.closing_auction < end <= s.close + dt.timedelta(minutes=1):
            end = s.close
        elif not (s.open < end <= s.closing_auction):
            continue  # outside the regular session
        bar = Bar(code, end, row.open, row.high, row.low, row.close, row.volume, None)
        prev = merged.get(end)
        if prev is not None:
            bar = Bar(
                code,
                end,
                prev.open,
                max(prev.high, bar.high),
                min(prev.low, bar.low),
                bar.close,
                prev.volume + bar.volume,
                None,
            )
        merged[end] = bar
    return list(merged.values())


def missing_minutes(code: str, days: Iterable[dt.date]) -> dict[dt.date, list[dt.datetime]]:
    out: dict[dt.date, list[dt.datetime]] = {}
    for day in days:
        s = calendar.session(day)
        have = selectors.minute_bar_times(code, s.open, s.close)
        out[day] = [end for end in s.minute_bar_ends() if end not in have]
    return out


def _minute_pages(oldest: dt.date, now: dt.datetime) -> int:
    sessions = len(calendar.trading_days(oldest, calendar.trading_day_of(now)))
    return max(1, math.ceil(sessions * 381 / MINUTE_PAGE_ROWS) + 1)


def backfill_minutes(
    broker: Broker,
    codes: Sequence[str],
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
    max_repairs: int = 2,
    report: GapReport | None = None,
) -> GapReport:
    report = report or GapReport()
    days = completed_sessions(start, end, now)
    if not days:
        return report
    for code in codes:
        before = missing_minutes(code, days)
        pending = {d: m for d, m in before.items() if m}
        pages = _minute_pages(days[0], now)
        attempt = 0
        try:
            while pending and attempt <= max_repairs:
                rows = broker.minute_bars(code, 1, max_pages=pages)
                bars = normalise_minute_bars(code, rows, set(pending))
                report.inserted += services.minute_bars_upsert(
                    bars, f"ka10080 {code}", overwrite=False
                ).changed
                pending = {d: m for d, m in missing_minutes(code, pending).items() if m}
                attempt += 1
                pages = pages * 2 + 1  # a repair looks deeper than the first pass
        except BrokerError as exc:
            report.errors[code] = f"{type(exc).__name__}: {exc}"
        for day in days:
            s = calendar.session(day)
            report.days.append(
                DayGaps(
                    code,
                    day,
                    s.expected_minute_bars,
                    len(before[day]),
                    tuple(pending.get(day, ())),
                )
            )
    return report


def backfill_daily(
    broker: Broker,
    codes: Sequence[str],
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
    report: GapReport | None = None,
) -> GapReport:
    """Daily bars for [start, end]; trading days the broker has no bar for are reported."""
    report = report or GapReport()
    days = completed_sessions(start, end, now)
    if not days:
        return report
    pages = max(1, math.ceil(len(days) / DAILY_PAGE_ROWS) + 1)
    for code in codes:
        try:
            rows = broker.daily_bars(code, base_date=days[-1], max_pages=pages)
        except BrokerError as exc:
            report.errors[code] = f"{type(exc).__name__}: {exc}"
            continue
        wanted = set(days)
        got = [
            services.DailyRow(
                code, r.day, r.open, r.high, r.low, r.close, r.volume, r.value_krw, None
            )
            for r in rows
            if r.day in wanted
        ]
        report.inserted += services.daily_bars_upsert(
            got, f"ka10081 {code}", overwrite=False
        ).changed
        present = selectors.daily_bar_dates(code, days[0], days[-1])
        report.daily_missing[code] = [d for d in days if d not in present]
    return report
