"""The reports page (seed 004 §7.6): charts over a date range and the stored reports. Thin: figures come
from `services.metrics_range` and are handed to the page's script as JSON (Chart.js draws them)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.reports import selectors
from apps.reports.models import Report
from apps.reports.services import (
    ReportError,
    default_range,
    metrics_range,
    parse_day,
    range_dict,
)


def reports_page(request: HttpRequest) -> HttpResponse:
    error, figures = "", None
    try:
        start, end = default_range(
            parse_day(request.GET.get("from"), "from"),
            parse_day(request.GET.get("to"), "to"),
            timezone.localdate(),
        )
    except ReportError as exc:
        error = str(exc)
        start, end = default_range(None, None, timezone.localdate())
    else:
        try:
            figures = range_dict(metrics_range(start, end))
        except ReportError as exc:
            error = str(exc)
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
