"""The reports page (seed 004 §7.6): charts over a date range and the stored reports. Thin: figures come
from `services.metrics_range` and are handed to the page's script as JSON (Chart.js draws them)."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.reports import selectors
from apps.reports.models import Report
from apps.reports.services import ReportError, metrics_range, range_dict

DEFAULT_DAYS = 30


def _day(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def reports_page(request: HttpRequest) -> HttpResponse:
    end = _day(request.GET.get("to")) or timezone.localdate()
    start = _day(request.GET.get("from")) or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    error = ""
    try:
        figures = range_dict(metrics_range(start, end))
    except ReportError as exc:
        error, figures = str(exc), None
    account = selectors.live_account_no()
    return render(
        request,
        "reports/page.html",
        {
            "start": start,
            "end": end,
            "error": error,
            "figures": figures,
            "reports": selectors.reports_list(account)[:20],
        },
    )


def report_chart(request: HttpRequest, report_id: int) -> HttpResponse:
    png = (
        Report.objects.filter(pk=report_id, account_no=selectors.live_account_no())
        .values_list("chart_png", flat=True)
        .first()
    )
    if not png:
        raise Http404
    return HttpResponse(bytes(png), content_type="image/png")
