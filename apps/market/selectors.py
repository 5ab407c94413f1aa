"""Reads of the market app: instruments, bars of a day, and the chart payload."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from django.db.models import QuerySet

from apps.market import indicators
from apps.market.aggregator import opening_range
from apps.market.models import DailyBar, Instrument, MinuteBar
from krx import calendar

_FIELDS = ("time", "open", "high", "low", "close", "volume", "value")


def instrument_get(code: str) -> Instrument | None:
    return Instrument.objects.filter(code=code).first()


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=calendar.KST)
    return start, start + dt.timedelta(days=1)


def minute_bars_of_day(code: str, day: dt.date) -> pd.DataFrame:
    """The day's (KST) minute bars as a frame indexed by aware UTC bar end."""
    start, end = _day_bounds(day)
    rows = (
        MinuteBar.objects.filter(instrument_id=code, time__gt=start, time__lte=end)
        .order_by("time")
        .values_list(*_FIELDS)
    )
    frame = pd.DataFrame(list(rows), columns=list(_FIELDS))
    frame["value"] = frame["value"].fillna(0).astype("int64")
    return frame.set_index(pd.DatetimeIndex(frame.pop("time"), tz="UTC"))


def minute_bar_times(code: str, start: dt.datetime, end: dt.datetime) -> set[dt.datetime]:
    """Stored bar ends in (start, end]."""
    return set(
        MinuteBar.objects.filter(instrument_id=code, time__gt=start, time__lte=end).values_list(
            "time", flat=True
        )
    )


def latest_minute_bar_day(code: str) -> dt.date | None:
    last = MinuteBar.objects.filter(instrument_id=code).order_by("-time").first()
    return calendar.trading_day_of(last.time) if last else None


def minute_bar_days_around(code: str, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest earlier and later (KST) days with minute bars of `code`: two index seeks."""
    start, end = _day_bounds(day)
    before = MinuteBar.objects.filter(instrument_id=code, time__lte=start).order_by("-time").first()
    after = MinuteBar.objects.filter(instrument_id=code, time__gt=end).order_by("time").first()
    return (
        calendar.trading_day_of(before.time) if before else None,
        calendar.trading_day_of(after.time) if after else None,
    )


def bars_for_page(
    kind: str, code: str | None, day: dt.date | None
) -> QuerySet[DailyBar] | QuerySet[MinuteBar]:
    """Bars for the browse page, newest first per code (the primary key serves a code filter;
    without one the database sorts the table)."""
    if kind == "minute":
        minutes = MinuteBar.objects.select_related("instrument")
        if code:
            minutes = minutes.filter(instrument_id=code)
        if day:
            start, end = _day_bounds(day)
            minutes = minutes.filter(time__gt=start, time__lte=end)
        return minutes.order_by("instrument_id", "-time")
    days = DailyBar.objects.select_related("instrument")
    if code:
        days = days.filter(instrument_id=code)
    if day:
        days = days.filter(date=day)
    return days.order_by("instrument_id", "-date")


def _num(value: float) -> float | None:
    return (
        None
        if value is None or (isinstance(value, float) and math.isnan(value))
        else round(float(value), 2)
    )


def chart_data(instrument: Instrument, day: dt.date, opening_range_minutes: int = 5) -> dict:
    """Bars of one day with VWAP (+ bands), Bollinger and ATR, times as KST ISO strings, and the
    opening range (high/low of the session's first `opening_range_minutes` minutes)."""
    bars = minute_bars_of_day(instrument.code, day)
    payload: dict = {
        "code": instrument.code,
        "name": instrument.name,
        "date": day.isoformat(),
        "bars": [],
        "opening_range": None,
    }
    if calendar.is_trading_day(day):
        s = calendar.session(day)
        payload["session"] = {
            "open": s.open.astimezone(calendar.KST).isoformat(),
            "close": s.close.astimezone(calendar.KST).isoformat(),
            "expected_bars": s.expected_minute_bars,
        }
        if not bars.empty:
            rng = opening_range(bars, s, opening_range_minutes)
            window_end = s.open + dt.timedelta(minutes=opening_range_minutes)
            payload["opening_range"] = (
                {
                    "high": rng[0],
                    "low": rng[1],
                    "minutes": opening_range_minutes,
                    "start": s.open.astimezone(calendar.KST).isoformat(),
                    "end": window_end.astimezone(calendar.KST).isoformat(),
                }
                if rng
                else None
            )
    if bars.empty:
        return payload
    # ATR and Bollinger look back over bars: warm them up on the previous session's bars so the
    # morning has values (VWAP resets per session anyway).
    warmup = minute_bars_of_day(instrument.code, calendar.previous_trading_day(day))
    series = pd.concat([warmup, bars]) if not warmup.empty else bars
    vb = indicators.vwap_bands(bars)
    bb = indicators.bollinger(series).iloc[len(series) - len(bars) :]
    atr = indicators.atr(series).iloc[len(series) - len(bars) :]
    for i, (end, row) in enumerate(bars.iterrows()):
        payload["bars"].append(
            {
                "time": end.tz_convert(calendar.KST).isoformat(),
                "open": int(row["open"]),
                "high": int(row["high"]),
                "low": int(row["low"]),
                "close": int(row["close"]),
                "volume": int(row["volume"]),
                "value": int(row["value"]),
                "vwap": _num(vb["middle"].iloc[i]),
                "vwap_upper": _num(vb["upper"].iloc[i]),
                "vwap_lower": _num(vb["lower"].iloc[i]),
                "bb_middle": _num(bb["middle"].iloc[i]),
                "bb_upper": _num(bb["upper"].iloc[i]),
                "bb_lower": _num(bb["lower"].iloc[i]),
                "atr": _num(atr.iloc[i]),
            }
        )
    return payload


def daily_bar_dates(code: str, start: dt.date, end: dt.date) -> set[dt.date]:
    return set(
        DailyBar.objects.filter(instrument_id=code, date__gte=start, date__lte=end).values_list(
            "date", flat=True
        )
    )
