"""Corporate-action adjustment of historical bars (splits, reverse splits, bonus and rights
issues): prices before an action are divided by its factor and volumes multiplied by it, so a
backtest sees one continuous price series on today's share basis.

Detection from daily data: KRX sets a day's base price (기준가) to the previous close except when
the share basis changed, when it sets the base on the new basis (cash dividends do not move it).
So a day whose base (`Close - Changes` in the marcap files) differs from the previous trading
day's close marks an action effective that day, with factor = previous close / base (50 for
Samsung Electronics' 50:1 split: 2,650,000 → base 53,000 on 2018-05-04).

Adjusted prices are integer won rounded half up; they are not necessarily on the tick grid of
the bar's date (a grid that applied to the unadjusted price).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Protocol, TypeVar

from krx import KST


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """From `effective` on, one old share is `factor` new shares (50 for a 50:1 split)."""

    code: str
    effective: dt.date
    factor: Fraction

    def __post_init__(self) -> None:
        if self.factor <= 0:
            raise ValueError("a corporate action's factor must be positive")


# Known actions of the instruments the project's reference data covers (the minute file of
# ../shared/data/krx spans the announcement, 2018-01-31, not the split itself).
SAMSUNG_SPLIT_2018 = CorporateAction("005930", dt.date(2018, 5, 4), Fraction(50))


@dataclass(frozen=True, slots=True)
class DailyClose:
    """What detection needs of a daily bar: the close and the day's base price."""

    code: str
    day: dt.date
    close: int
    base: int  # the day's base price (previous close, or the adjusted base after an action)


def detect_actions(
    rows: Iterable[DailyClose], previous_day: Callable[[dt.date], dt.date] | None = None
) -> list[CorporateAction]:
    """Corporate actions implied by daily bars: a base price that is not the previous trading
    day's close. Rows may come in any order; each code is read in date order. With
    `previous_day` (e.g. `krx.calendar.previous_trading_day`) two rows are compared only when
    they are consecutive trading days, so a hole in the data (a missing day, files of separate
    years) is not taken for an action; a halted stock keeps its rows, with zero volume."""
    by_code: dict[str, list[DailyClose]] = {}
    for r in rows:
        if r.close <= 0 or r.base <= 0:
            raise ValueError(f"{r.code} {r.day}: close and base must be positive")
        by_code.setdefault(r.code, []).append(r)
    out = []
    for code, days in sorted(by_code.items()):
        days.sort(key=lambda r: r.day)
        for prev, cur in itertools.pairwise(days):
            if previous_day is not None and previous_day(cur.day) != prev.day:
                continue
            if cur.base != prev.close:
                out.append(CorporateAction(code, cur.day, Fraction(prev.close, cur.base)))
    return out


class BarLike(Protocol):
    code: str
    open: int
    high: int
    low: int
    close: int
    volume: int


B = TypeVar("B", bound=BarLike)


def _won(value: Fraction) -> int:
    """Half up to the won (prices and volumes are positive)."""
    return int(value + Fraction(1, 2))


def factor_on(code: str, day: dt.date, actions: Sequence[CorporateAction]) -> Fraction:
    """The cumulative factor of the actions after `day` (1 when none)."""
    f = Fraction(1)
    for a in actions:
        if a.code == code and a.effective > day:
            f *= a.factor
    return f


def adjust_bars(
    bars: Iterable[B],
    actions: Sequence[CorporateAction],
    day_of: Callable[[B], dt.date] | None = None,
) -> list[B]:
    """`bars` (dataclasses with code, open, high, low, close, volume and a date) on the basis of
    the latest action: prices / factor, volume × factor. `day_of(bar)` gives a bar's trading
    day (default: its `day`, else its `at`'s date)."""
    out = []
    for bar in bars:
        day = day_of(bar) if day_of else _default_day(bar)
        f = factor_on(bar.code, day, actions)
        if f == 1:
            out.append(bar)
            continue
        out.append(
            replace(
                bar,  # type: ignore[type-var]
                open=_won(bar.open / f),
                high=_won(bar.high / f),
                low=_won(bar.low / f),
                close=_won(bar.close / f),
                volume=_won(bar.volume * f),
            )
        )
    return out


def _default_day(bar: object) -> dt.date:
    day = getattr(bar, "day", None)
    if isinstance(day, dt.date):
        return day
    at = getattr(bar, "at", None)
    if isinstance(at, dt.datetime):
        return at.astimezone(KST).date()
    raise ValueError(f"cannot tell the trading day of {bar!r}")


def read_marcap_closes(path: str | Path, codes: Iterable[str] | None = None) -> list[DailyClose]:
    """DailyClose rows of a marcap-format daily file (CSV or CSV.GZ, columns read by name: Date,
    Code, Close, Changes; base = Close - Changes). Rows without a close (no trade) are skipped."""
    wanted = set(codes) if codes is not None else None
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["Code"].strip().zfill(6)
            if wanted is not None and code not in wanted:
                continue
            close = int(float(row["Close"] or 0))
            if close <= 0:
                continue
            base = close - int(float(row["Changes"] or 0))
            day = dt.date.fromisoformat(row["Date"].strip()[:10])
            out.append(DailyClose(code, day, close, base))
    return out
