"""A backtest on the per-stock chart: its entries and exits as markers over the stored minute bars it
replayed (`/chart/<code>/?date=&backtest=<id>`; the markers from
`GET /api/v1/backtests/{id}/markers/{code}?date=`).

The markers have the live chart's shape (`apps.market.chart.group_fills`: one per order and bar minute,
at the fills' average price), read from the run's own books (`BacktestFill`), never the live ones. Each
links to the run's trade table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models.functions import TruncDate
from django.urls import reverse

from apps.market.chart import BarClock, day_bounds, group_fills
from krx import calendar

from .models import BacktestFill, BacktestRun


def backtest_markers(run: BacktestRun, code: str, day: dt.date) -> dict[str, Any]:
    """Entry/exit markers of `code` on `day` from the fills of backtest `run`, in time order."""
    start, end = day_bounds(day)
    fills = (
        BacktestFill.objects.filter(
            run=run, order__code=code, executed_at__gte=start, executed_at__lt=end
        )
        .order_by("executed_at", "id")
        .values_list(
            "executed_at",
            "quantity",
            "amount",
            "order_id",
            "order__side",
            "order__strategy_tag",
            "order__cause",
        )
    )
    detail = reverse("backtests:detail", args=[run.pk])
    markers = group_fills(
        ((*row, "") for row in fills),
        BarClock(day),
        lambda _order_id: f"{detail}#backtest-trades",
    )
    for marker in markers:
        marker.pop("account_no", None)  # a backtest has no broker account
    return {"code": code, "date": day.isoformat(), "backtest": run.pk, "markers": markers}


def backtest_trade_days(run: BacktestRun, code: str) -> list[dt.date]:
    """The trading days (KST) on which backtest `run` has fills of `code`, in order."""
    days = (
        BacktestFill.objects.filter(run=run, order__code=code)
        .annotate(day=TruncDate("executed_at", tzinfo=calendar.KST))
        .values_list("day", flat=True)
        .distinct()
        .order_by("day")
    )
    return list(days)
