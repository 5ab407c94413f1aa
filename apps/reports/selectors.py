"""Reads of the reports app: the live account's closed trades as metric inputs, the start equity of a
period, index series, stored metrics and reports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from apps.reports.metrics import ClosedTrade, q
from apps.reports.models import IndexDailyBar, LearningMetrics, Report, ReportKind
from krx import KST
from krx import calendar as krx_calendar

INDEX_CODES = ("KS11", "KQ11")  # KOSPI, KOSDAQ


def live_account_no() -> str:
    """The live account: the active broker account (backtest books are never read here)."""
    from apps.accounts.selectors import active_account_no

    return active_account_no()


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    return krx_calendar.trading_days(start, end) if start <= end else []


def closed_trades(account_no: str, start: dt.date, end: dt.date) -> list[ClosedTrade]:
    """The account's trade-log rows with a trade date in [start, end], in exit order."""
    from apps.trades.models import Trade

    rows = (
        Trade.objects.filter(account_no=account_no, date__gte=start, date__lte=end)
        .order_by("exit_time", "id")
        .values_list(
            "exit_time",
            "pnl",
            "pnl_pct",
            "entry_time",
            "strategy_tag",
            "news_score",
            "volume_rank",
        )
    )
    return [
        ClosedTrade(
            exit_time=r[0],
            pnl=r[1],
            return_pct=r[2],
            entry_time=r[3],
            strategy_tag=r[4],
            news_score=r[5],
            volume_rank=r[6],
        )
        for r in rows
    ]


def start_equity(account_no: str, day: dt.date) -> int:
    """The account's estimated assets at the start of `day`: the last balance snapshot before that KST
    day, else the first one of the day, else `REPORTS_START_EQUITY_KRW`."""
    from apps.accounts.models import BalanceSnapshot

    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=KST)
    snapshots = BalanceSnapshot.objects.filter(account__account_no=account_no)
    before = snapshots.filter(taken_at__lt=midnight).order_by("-taken_at").first()
    if before is None:
        before = (
            snapshots.filter(taken_at__lt=midnight + dt.timedelta(days=1))
            .order_by("taken_at")
            .first()
        )
    if before is not None and before.estimated_assets > 0:
        return before.estimated_assets
    return int(settings.REPORTS_START_EQUITY_KRW)


def index_series(days: list[dt.date]) -> dict[str, list[dict]]:
    """Per index (KOSPI KS11, KOSDAQ KQ11) and day: close and return since the day before the first
    day (the first bar's previous close, else the last close before the range). Days without a bar
    are left out."""
    if not days:
        return {code: [] for code in INDEX_CODES}
    out: dict[str, list[dict]] = {}
    for code in INDEX_CODES:
        bars = list(IndexDailyBar.objects.filter(index_code=code, date__in=days).order_by("date"))
        base: Decimal | None = None
        if bars:
            prior = (
                IndexDailyBar.objects.filter(index_code=code, date__lt=days[0])
                .order_by("-date")
                .values_list("close", flat=True)
                .first()
            )
            base = prior or bars[0].prev_close or bars[0].open
        out[code] = [
            {
                "date": bar.date.isoformat(),
                "close": str(bar.close),
                "cumulative_pct": str(q((bar.close / base - 1) * 100)) if base else None,
            }
            for bar in bars
        ]
    return out


def metrics_days(account_no: str, start: dt.date, end: dt.date) -> QuerySet[LearningMetrics]:
    return LearningMetrics.objects.filter(
        account_no=account_no, date__gte=start, date__lte=end
    ).order_by("date")


def reports_list(account_no: str, kind: str | None = None) -> QuerySet[Report]:
    qs = Report.objects.filter(account_no=account_no).defer("chart_png")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-period_end", "kind")


def report_of(account_no: str, kind: str, day: dt.date) -> Report | None:
    return Report.objects.filter(account_no=account_no, kind=kind, period_end=day).first()


__all__ = ["ReportKind"]
