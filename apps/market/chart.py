"""Reads of the per-stock chart page beyond the bars: the markers of one code's trading day.

Entries and exits come from the fills of the trades app's orders (a buy is an entry, a sell an exit),
one marker per order and bar minute (a partial fill in another minute is another marker), at the
fills' average price, with the order's strategy tag and cause. Signals come from the strategy app's
`Signal` table. Every marker is placed on the minute bar its time belongs to (bars are stamped at
their end, the closing auction's prints on the 15:30 bar, as `aggregator.bar_end_ms` labels ticks),
so the chart library finds a bar for it; `at` keeps the exact time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.urls import reverse

from apps.market.aggregator import bar_end_ms, epoch_ms, from_epoch_ms
from apps.strategy.models import Signal, SignalStatus
from apps.trades.models import Cause, Fill, Side
from krx import calendar

_CENT = Decimal("0.01")
_MINUTE = dt.timedelta(minutes=1)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=calendar.KST)
    return start, start + dt.timedelta(days=1)


@dataclass(frozen=True)
class BarClock:
    """Maps a moment of one day onto the end of the minute bar it belongs to."""

    day: dt.date

    def bar_end(self, moment: dt.datetime) -> dt.datetime:
        if not calendar.is_trading_day(self.day):
            floor = moment.replace(second=0, microsecond=0)
            return floor + _MINUTE
        s = calendar.session(self.day)
        ms = int(bar_end_ms(np.array([epoch_ms(moment)], dtype=np.int64), s)[0])
        end = from_epoch_ms(ms)
        # Nothing trades before the open's first bar or after the closing print's bar: clamp so the
        # marker stays on the chart (a pre-open or after-hours fill sits on the first/last bar).
        return min(max(end, s.open + _MINUTE), s.close)


def _kst(moment: dt.datetime) -> str:
    return moment.astimezone(calendar.KST).isoformat()


FillRow = tuple[dt.datetime, int, int, Any, str, str, str, str]
"""(executed_at, quantity, amount, order id, side, strategy tag, cause, account) of one fill."""


def fill_markers(code: str, day: dt.date, clock: BarClock) -> list[dict[str, Any]]:
    """One entry/exit marker per order and bar minute from the fills of `code` on `day`."""
    start, end = day_bounds(day)
    fills = (
        Fill.objects.filter(order__code=code, executed_at__gte=start, executed_at__lt=end)
        .order_by("executed_at", "id")
        .values_list(
            "executed_at",
            "quantity",
            "amount",
            "order_id",
            "order__side",
            "order__strategy_tag",
            "order__cause",
            "order__account_no",
        )
    )
    return group_fills(fills, clock, lambda order_id: reverse("trades:order", args=[order_id]))


def group_fills(
    fills: Iterable[FillRow], clock: BarClock, order_url: Callable[[Any], str | None]
) -> list[dict[str, Any]]:
    """Entry/exit markers from fills in time order: one per order and bar minute, at the fills'
    average price (the live books' fills and a backtest's alike)."""
    groups: dict[tuple[Any, dt.datetime], dict[str, Any]] = {}
    totals: dict[tuple[Any, dt.datetime], list[int]] = defaultdict(lambda: [0, 0])
    for at, qty, amount, order_id, side, tag, cause, account in fills:
        key = (order_id, clock.bar_end(at))
        if key not in groups:
            groups[key] = {
                "kind": "entry" if side == Side.BUY else "exit",
                "time": _kst(key[1]),
                "at": _kst(at),
                "side": side,
                "strategy": tag,
                "cause": cause,
                "cause_label": str(Cause(cause).label) if cause in Cause.values else cause,
                "account_no": account,
                "order_id": str(order_id),
                "order_url": order_url(order_id),
            }
        totals[key][0] += qty
        totals[key][1] += amount
    markers = []
    for key, marker in groups.items():
        qty, amount = totals[key]
        marker["quantity"] = qty
        marker["price"] = str((Decimal(amount) / qty).quantize(_CENT)) if qty else None
        markers.append(marker)
    return markers


def signal_markers(code: str, day: dt.date, clock: BarClock) -> list[dict[str, Any]]:
    """The strategy signals of `code` on trading day `day`."""
    signals = Signal.objects.filter(code=code, day=day).order_by("at", "id")
    return [
        {
            "kind": "signal",
            "time": _kst(clock.bar_end(s.at)),
            "at": _kst(s.at),
            "side": s.side,
            "price": s.price,
            "strategy": s.strategy,
            "reason": s.reason,
            "status": s.status,
            "status_label": str(SignalStatus(s.status).label)
            if s.status in SignalStatus.values
            else s.status,
            "order_id": str(s.order_id) if s.order_id else None,
        }
        for s in signals
    ]


def chart_markers(code: str, day: dt.date) -> dict[str, Any]:
    """Entry/exit and signal markers of `code` on `day`, ordered by time."""
    clock = BarClock(day)
    markers = fill_markers(code, day, clock) + signal_markers(code, day, clock)
    markers.sort(key=lambda m: (m["time"], m["at"]))
    return {"code": code, "date": day.isoformat(), "markers": markers}
