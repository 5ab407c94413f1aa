"""Writes of the reports app: learning metrics of a day, daily/weekly reports, the after-close job.

- `metrics_range(start, end)`: every metric of `apps.reports.metrics` over the live account's closed
  trades of a date range, with the daily series and the index comparison (nothing stored).
- `learning_metrics_compute(day)`: the seed §9.2 row of one trading day (recomputed on demand: upsert).
- `report_make(kind, day)`: the daily report of `day`, or the weekly one of the week that ends on `day`;
  made once — a second call returns the stored report and sends nothing (unique per account, kind and
  period start). The report is sent through the notifications app (kind `report.daily`; `data.period`
  says daily or weekly) with its equity chart attached where the channel can carry it.
- `after_close(now)`: what the beat entry runs: for the last KRX trading day whose session closed at
  least `REPORTS_AFTER_CLOSE_MINUTES` before `now` (the exchange's clock), its metrics and daily report,
  and the weekly report when that day is the week's last session. A no-op when they exist.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.reports import selectors
from apps.reports.charts import equity_png
from apps.reports.metrics import (
    DayPoint,
    Metrics,
    PatternStats,
    closed_trade_equity,
    compute_metrics,
    daily_series,
)
from apps.reports.models import LearningMetrics, Report, ReportKind
from krx import KST
from krx import calendar as krx_calendar

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 3 * 366
# The dates the KRX calendar (krx.calendar: exchange-calendars' XKRX, built for 2005–2032) can answer for.
FIRST_DAY, LAST_DAY = dt.date(2005, 1, 3), dt.date(2032, 11, 30)


class ReportError(ValueError):
    """A request that cannot be served (bad range, not a trading day); nothing is written."""


def parse_day(raw: str | None, name: str) -> dt.date | None:
    """A YYYY-MM-DD query value within the calendar's years (None when absent); ReportError otherwise."""
    if raw in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ReportError(f"{name}: a date as YYYY-MM-DD is expected") from None
    _check_day(day, name)
    return day


def _check_day(day: dt.date, name: str = "date") -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ReportError(f"{name}: between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")


def default_range(
    start: dt.date | None, end: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The range a page or API call means: `to` defaults to today, `from` to 29 days before `to`."""
    end = end or min(max(today, FIRST_DAY), LAST_DAY)
    return start or max(FIRST_DAY, end - dt.timedelta(days=29)), end


@dataclass(frozen=True)
class RangeMetrics:
    account_no: str
    start: dt.date
    end: dt.date
    start_equity: int
    metrics: Metrics
    daily: list[DayPoint]
    index: dict[str, list[dict]]


def _min_pattern_trades() -> int:
    return int(settings.REPORTS_PATTERN_MIN_TRADES)


def metrics_range(
    start: dt.date, end: dt.date, account_no: str | None = None, *, with_index: bool = True
) -> RangeMetrics:
    _check_day(start, "from")
    _check_day(end, "to")
    if start > end:
        raise ReportError("from must not be after to")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ReportError(f"a range is at most {MAX_RANGE_DAYS} days")
    account = account_no or selectors.live_account_no()
    trades = selectors.closed_trades(account, start, end)
    equity0 = selectors.start_equity(account, start)
    days = selectors.trading_days(start, end)
    sessions = [(krx_calendar.session(d).open, krx_calendar.session(d).close) for d in days]
    metrics = compute_metrics(
        trades, start_equity=equity0, sessions=sessions, min_pattern_trades=_min_pattern_trades()
    )
    return RangeMetrics(
        account_no=account,
        start=start,
        end=end,
        start_equity=equity0,
        metrics=metrics,
        daily=daily_series(trades, days, equity0),
        index=selectors.index_series(days) if with_index else {},
    )


def pattern_dict(p: PatternStats | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "pattern": p.label,
        "strategy_tag": p.key.strategy_tag,
        "news": p.key.news,
        "rank": p.key.rank,
        "time": p.key.time,
        "trades": p.trades,
        "wins": p.wins,
        "win_rate": str(p.win_rate * 100),
        "avg_return": str(p.avg_return_pct),
        "total_pnl": p.total_pnl,
    }


def _pct(value: Decimal) -> Decimal:
    return (value * 100).quantize(Decimal("0.0001"))


def learning_metrics_compute(day: dt.date, account_no: str | None = None) -> LearningMetrics:
    """The day's learning metrics of the live account, stored (replacing an earlier computation)."""
    _check_day(day)
    if not krx_calendar.is_trading_day(day):
        raise ReportError(f"{day.isoformat()} is not a KRX trading day")
    result = metrics_range(day, day, account_no, with_index=False)
    m = result.metrics
    row, _ = LearningMetrics.objects.update_or_create(
        account_no=result.account_no,
        date=day,
        defaults={
            "total_trades": m.total_trades,
            "win_count": m.wins,
            "loss_count": m.losses,
            "win_rate": _pct(m.win_rate),
            "avg_return": m.avg_return_pct,
            "profit_factor": m.profit_factor,
            "exposure": _pct(m.exposure),
            "max_drawdown": m.max_drawdown_pct,
            "max_drawdown_krw": m.max_drawdown_krw,
            "total_pnl": m.total_pnl,
            "start_equity": result.start_equity,
            "best_pattern": m.best_pattern.label if m.best_pattern else "",
            "worst_pattern": m.worst_pattern.label if m.worst_pattern else "",
            "patterns": [pattern_dict(p) for p in m.patterns],
        },
    )
    return row


# --- reports -----------------------------------------------------------------------------------------------


def week_days(day: dt.date) -> list[dt.date]:
    """The trading days of `day`'s ISO week up to `day`."""
    monday = day - dt.timedelta(days=day.weekday())
    return selectors.trading_days(monday, day)


def is_week_last_session(day: dt.date) -> bool:
    following = krx_calendar.next_trading_day(day)
    return following.isocalendar()[:2] != day.isocalendar()[:2]


def _won(value: int) -> str:
    return f"{value:+,}원"


def _report_text(kind: str, result: RangeMetrics) -> tuple[str, str]:
    m = result.metrics
    if kind == ReportKind.DAILY:
        title = f"[일간 리포트] {result.end.isoformat()} 손익 {_won(m.total_pnl)}"
    else:
        title = (
            f"[주간 리포트] {result.start.isoformat()}~{result.end.isoformat()} "
            f"손익 {_won(m.total_pnl)}"
        )
    pf = str(m.profit_factor) if m.profit_factor is not None else "-"
    lines = [
        f"거래 {m.total_trades}건 · 승 {m.wins} / 패 {m.losses} · 승률 {m.win_rate_pct}%",
        f"평균 수익률 {m.avg_return_pct}% · 손익비 {pf}",
        f"최대 낙폭 {m.max_drawdown_pct}% ({m.max_drawdown_krw:,}원)",
    ]
    if kind == ReportKind.WEEKLY:
        for point in result.daily:
            lines.append(f"• {point.day:%m-%d} {_won(point.pnl)} ({point.return_pct}%)")
    names = {"KS11": "KOSPI", "KQ11": "KOSDAQ"}
    for code, series in result.index.items():
        if series and series[-1]["cumulative_pct"] is not None:
            lines.append(f"{names.get(code, code)} {series[-1]['cumulative_pct']}%")
    min_n = m.min_pattern_trades
    if m.best_pattern:
        lines.append(
            f"최고 패턴 {m.best_pattern.label} ({m.best_pattern.trades}건, "
            f"평균 {m.best_pattern.avg_return_pct}%)"
        )
    if m.worst_pattern:
        lines.append(
            f"최저 패턴 {m.worst_pattern.label} ({m.worst_pattern.trades}건, "
            f"평균 {m.worst_pattern.avg_return_pct}%)"
        )
    if not m.best_pattern:
        lines.append(f"패턴 평가: 표본 부족 (패턴당 최소 {min_n}건)")
    return title, "\n".join(lines)


def range_dict(result: RangeMetrics) -> dict[str, Any]:
    """The JSON shape of a range's metrics (the metrics API and a report's `data`)."""
    m = result.metrics
    return {
        "account_no": result.account_no,
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "start_equity": result.start_equity,
        "total_trades": m.total_trades,
        "win_count": m.wins,
        "loss_count": m.losses,
        "win_rate": str(m.win_rate_pct),
        "avg_return": str(m.avg_return_pct),
        "profit_factor": str(m.profit_factor) if m.profit_factor is not None else None,
        "exposure": str(_pct(m.exposure)),
        "max_drawdown": str(m.max_drawdown_pct),
        "max_drawdown_krw": m.max_drawdown_krw,
        "total_pnl": m.total_pnl,
        "best_pattern": pattern_dict(m.best_pattern),
        "worst_pattern": pattern_dict(m.worst_pattern),
        "min_pattern_trades": m.min_pattern_trades,
        "patterns": [pattern_dict(p) for p in m.patterns],
        "daily": [
            {
                "date": p.day.isoformat(),
                "trades": p.trades,
                "pnl": p.pnl,
                "equity": p.equity,
                "return_pct": str(p.return_pct),
                "cumulative_pct": str(p.cumulative_pct),
                "drawdown_pct": str(p.drawdown_pct),
            }
            for p in result.daily
        ],
        "index": result.index,
    }


def _chart(kind: str, result: RangeMetrics) -> bytes:
    if kind == ReportKind.DAILY:
        trades = selectors.closed_trades(result.account_no, result.start, result.end)
        values = [result.start_equity] + [
            p.equity for p in closed_trade_equity(trades, result.start_equity)
        ]
        title = f"Daily equity {result.end.isoformat()} (closed trades)"
    else:
        values = [result.start_equity] + [p.equity for p in result.daily]
        title = f"Weekly equity {result.start.isoformat()} - {result.end.isoformat()}"
    return equity_png(values, title)


def report_make(
    kind: str, day: dt.date, account_no: str | None = None, *, send: bool = True
) -> tuple[Report, bool]:
    """The report of `kind` for `day` (daily: that day; weekly: its ISO week up to `day`): (report, made).

    Made once: an existing report is returned as it is (made=False) and nothing is sent again."""
    if kind not in ReportKind.values:
        raise ReportError(f"unknown report kind {kind!r} (daily or weekly)")
    _check_day(day)
    if not krx_calendar.is_trading_day(day):
        raise ReportError(f"{day.isoformat()} is not a KRX trading day")
    account = account_no or selectors.live_account_no()
    days = [day] if kind == ReportKind.DAILY else week_days(day)
    existing = Report.objects.filter(account_no=account, kind=kind, period_start=days[0]).first()
    if existing is not None:
        return existing, False
    for d in days:
        if not LearningMetrics.objects.filter(account_no=account, date=d).exists() or d == day:
            learning_metrics_compute(d, account)
    result = metrics_range(days[0], day, account)
    title, body = _report_text(kind, result)
    png = _chart(kind, result)
    try:
        with transaction.atomic():
            report = Report.objects.create(
                account_no=account,
                kind=kind,
                period_start=days[0],
                period_end=day,
                title=title,
                body=body,
                data=range_dict(result),
                chart_png=png,
            )
            if send:
                report.notification_id = _notify(report)
                report.save(update_fields=["notification_id"])
    except IntegrityError:
        # Another worker made it first (same account, kind and period): theirs is the report.
        return Report.objects.get(account_no=account, kind=kind, period_start=days[0]), False
    log.info("report %s %s–%s made", kind, days[0], day)
    return report, True


def _notify(report: Report) -> int | None:
    from apps.notifications.services import notify

    note = notify(
        "report.daily",
        title=report.title,
        body=report.body,
        data={
            "period": report.kind,
            "report_id": report.pk,
            "from": report.period_start.isoformat(),
            "to": report.period_end.isoformat(),
            "attachments": [{"loader": "reports.chart", "ref": str(report.pk)}],
        },
        dedup_key=f"report:{report.account_no}:{report.kind}:{report.period_start.isoformat()}",
    )
    return note.pk if note is not None else None


def last_closed_trading_day(now: dt.datetime) -> dt.date | None:
    """The latest trading day whose session closed at least REPORTS_AFTER_CLOSE_MINUTES before `now`."""
    margin = dt.timedelta(minutes=int(settings.REPORTS_AFTER_CLOSE_MINUTES))
    today = now.astimezone(KST).date()
    day = today if krx_calendar.is_trading_day(today) else krx_calendar.previous_trading_day(today)
    if now < krx_calendar.session(day).close + margin:
        day = krx_calendar.previous_trading_day(day)
    return day


def after_close(now: dt.datetime) -> list[Report]:
    """The beat job: the last closed trading day's metrics and daily report (and the weekly report at
    the week's last session), each made once. Returns the reports made by this call."""
    day = last_closed_trading_day(now)
    if day is None:
        return []
    made: list[Report] = []
    report, created = report_make(ReportKind.DAILY, day)
    if created:
        made.append(report)
    if is_week_last_session(day):
        report, created = report_make(ReportKind.WEEKLY, day)
        if created:
            made.append(report)
    return made
