"""Reports API (seed 004 §8.2, under /api/v1/reports/): thin views; any logged-in user may read.

- `GET daily?date=YYYY-MM-DD&kind=daily|weekly` — stored reports, newest first (limit/offset pages).
- `GET metrics?from=YYYY-MM-DD&to=YYYY-MM-DD` — the live account's learning metrics over the range
  (default: the last 30 days), with the daily series, the index comparison and the stored daily rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import errors, paged, query
from apps.core.pagination import LimitOffsetPages
from apps.reports import selectors
from apps.reports.models import LearningMetrics, Report, ReportKind
from apps.reports.services import (
    ReportError,
    default_range,
    metrics_range,
    parse_day,
    range_dict,
)

_DEC = {"help_text": "percent, decimal string"}
_PATTERN_FIELDS = {
    "pattern": serializers.CharField(),
    "strategy_tag": serializers.CharField(allow_blank=True),
    "news": serializers.CharField(),
    "rank": serializers.CharField(),
    "time": serializers.CharField(),
    "trades": serializers.IntegerField(),
    "wins": serializers.IntegerField(),
    "win_rate": serializers.CharField(**_DEC),
    "avg_return": serializers.CharField(**_DEC),
    "total_pnl": serializers.IntegerField(),
}
PatternSerializer = type("Pattern", (serializers.Serializer,), dict(_PATTERN_FIELDS))
_DAILY_POINT = inline_serializer(
    "MetricsDay",
    {
        "date": serializers.DateField(),
        "trades": serializers.IntegerField(),
        "pnl": serializers.IntegerField(),
        "equity": serializers.IntegerField(),
        "return_pct": serializers.CharField(**_DEC),
        "cumulative_pct": serializers.CharField(**_DEC),
        "drawdown_pct": serializers.CharField(**_DEC),
    },
    many=True,
)
_INDEX = serializers.DictField(
    child=serializers.ListField(child=serializers.DictField()),
    help_text="KS11/KQ11: [{date, close, cumulative_pct}]",
)
_METRICS_ROW = inline_serializer(
    "LearningMetricsRow",
    {
        "date": serializers.DateField(),
        "total_trades": serializers.IntegerField(),
        "win_count": serializers.IntegerField(),
        "win_rate": serializers.CharField(**_DEC),
        "avg_return": serializers.CharField(**_DEC),
        "max_drawdown": serializers.CharField(**_DEC),
        "total_pnl": serializers.IntegerField(),
        "best_pattern": serializers.CharField(allow_blank=True),
        "worst_pattern": serializers.CharField(allow_blank=True),
        "created_at": serializers.DateTimeField(),
    },
    many=True,
)
_METRICS = inline_serializer(
    "LearningMetrics",
    {
        "account_no": serializers.CharField(allow_blank=True),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "start_equity": serializers.IntegerField(),
        "total_trades": serializers.IntegerField(),
        "win_count": serializers.IntegerField(),
        "loss_count": serializers.IntegerField(),
        "win_rate": serializers.CharField(**_DEC),
        "avg_return": serializers.CharField(**_DEC),
        "profit_factor": serializers.CharField(allow_null=True),
        "exposure": serializers.CharField(**_DEC),
        "max_drawdown": serializers.CharField(**_DEC),
        "max_drawdown_krw": serializers.IntegerField(),
        "total_pnl": serializers.IntegerField(),
        "best_pattern": PatternSerializer(allow_null=True),
        "worst_pattern": PatternSerializer(allow_null=True),
        "min_pattern_trades": serializers.IntegerField(),
        "patterns": PatternSerializer(many=True),
        "daily": _DAILY_POINT,
        "index": _INDEX,
        "days": _METRICS_ROW,
    },
)
_REPORT = inline_serializer(
    "Report",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.ChoiceField(list(ReportKind.values)),
        "date": serializers.DateField(),
        "period_start": serializers.DateField(),
        "period_end": serializers.DateField(),
        "title": serializers.CharField(),
        "body": serializers.CharField(),
        "metrics": serializers.DictField(help_text="the metrics figures without the series"),
        "daily": serializers.ListField(child=serializers.DictField()),
        "index": serializers.DictField(),
        "notified": serializers.BooleanField(),
        "created_at": serializers.DateTimeField(),
    },
    many=True,
)


def _date(request: Request, name: str) -> dt.date | None:
    return parse_day(request.query_params.get(name), name)


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "id": report.pk,
        "kind": report.kind,
        "date": report.period_end.isoformat(),
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "title": report.title,
        "body": report.body,
        "metrics": {
            k: v for k, v in report.data.items() if k not in ("daily", "index", "patterns")
        },
        "daily": report.data.get("daily", []),
        "index": report.data.get("index", {}),
        "notified": report.notification_id is not None,
        "created_at": report.created_at.isoformat(),
    }


def metrics_row_dict(row: LearningMetrics) -> dict[str, Any]:
    """seed §9.2 `learning_metrics` (rates in percent)."""
    return {
        "date": row.date.isoformat(),
        "total_trades": row.total_trades,
        "win_count": row.win_count,
        "win_rate": str(row.win_rate),
        "avg_return": str(row.avg_return),
        "max_drawdown": str(row.max_drawdown),
        "total_pnl": row.total_pnl,
        "best_pattern": row.best_pattern,
        "worst_pattern": row.worst_pattern,
        "created_at": row.created_at.isoformat(),
    }


class DailyReportsView(APIView):
    @extend_schema(
        summary="Daily/weekly reports (seed 004 §8.2)",
        parameters=[
            query("date", "YYYY-MM-DD: the report of the period ending that day", dt.date),
            query("kind", "daily (default) or weekly", enum=list(ReportKind.values)),
            query("limit", "page size", int),
            query("offset", "first row", int),
        ],
        responses={200: paged("ReportPage", _REPORT), **errors(400)},
    )
    def get(self, request: Request) -> Response:
        try:
            day = _date(request, "date")
        except ReportError as exc:
            return Response({"detail": str(exc)}, status=400)
        kind = request.query_params.get("kind", ReportKind.DAILY)
        if kind not in ReportKind.values:
            return Response({"detail": "kind: daily or weekly"}, status=400)
        qs = selectors.reports_list(selectors.live_account_no(), kind)
        if day is not None:
            qs = qs.filter(period_end=day)
        paginator = LimitOffsetPages()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([report_dict(r) for r in page])


class MetricsView(APIView):
    @extend_schema(
        summary="Learning metrics (seed 004 §8.2)",
        description="Default the last 30 days, at most 3 years; `from` after `to` → 400.",
        parameters=[query("from", "YYYY-MM-DD", dt.date), query("to", "YYYY-MM-DD", dt.date)],
        responses={200: _METRICS, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        try:
            start, end = default_range(
                _date(request, "from"), _date(request, "to"), timezone.localdate()
            )
            result = metrics_range(start, end)
        except ReportError as exc:
            return Response({"detail": str(exc)}, status=400)
        body = range_dict(result)
        body["days"] = [
            metrics_row_dict(r) for r in selectors.metrics_days(result.account_no, start, end)
        ]
        return Response(body)
