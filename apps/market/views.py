"""Pages of the market app (thin): a read-only browser of the stored daily and minute bars, and the
per-stock chart.

The bar tables have composite primary keys, which Django's admin does not support; the bars page
replaces the admin lists. Any logged-in user may view both (LoginRequiredMiddleware). Bar tables
hold millions of rows, so pages are fetched by offset with one extra row to tell whether a
next page exists: no COUNT(*).

The chart page (`/chart/<code>/?date=`) renders the frame; its script draws the bars from
`GET /api/v1/market/chart/<code>` and the markers from `…/markers` with the vendored charting
library (`CHART_LIBRARY`), and follows `bar_update`, `order_filled` and `trade_signal` on /ws/live.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.market import selectors
from krx import calendar
from krx.codes import clean_stock_code

# The vendored charting library (static/vendor/; README, Market data, "Vendored JavaScript"):
# the version is in the path, so a new version is a new URL and no browser keeps the old file.
CHART_LIBRARY = "vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.js"

PER_PAGE = 100


MAX_PAGE = 1_000_000


def bars_page(request: HttpRequest) -> HttpResponse:
    """GET ?kind=daily|minute&code=005930&date=YYYY-MM-DD&page=N (all optional)."""
    kind = "minute" if request.GET.get("kind") == "minute" else "daily"
    raw_code = request.GET.get("code", "").strip()
    code = clean_stock_code(raw_code) if raw_code else ""
    raw_date = request.GET.get("date", "").strip()
    errors: list[str] = []
    if code is None:
        errors.append(_("종목코드는 6자리여야 합니다: %(value)s") % {"value": raw_code})
        code = raw_code  # shown back in the form as typed
    day: dt.date | None = None
    if raw_date:
        try:
            day = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors.append(_("날짜는 YYYY-MM-DD 형식이어야 합니다: %(value)s") % {"value": raw_date})
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    if page > MAX_PAGE:  # the row offset must fit the database's 64-bit integer
        errors.append(_("페이지 번호가 너무 큽니다 (최대 %(max)s).") % {"max": MAX_PAGE})
        page = 1
    rows: list = []
    has_next = False
    if not errors:
        start = (page - 1) * PER_PAGE
        fetched = list(
            selectors.bars_for_page(kind, code or None, day)[start : start + PER_PAGE + 1]
        )
        rows, has_next = fetched[:PER_PAGE], len(fetched) > PER_PAGE
    query = {"kind": kind, "code": code, "date": raw_date}
    context = {
        "kind": kind,
        "code": code,
        "date": raw_date,
        "rows": rows,
        "errors": errors,
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if has_next else None,
        "query": urlencode({k: v for k, v in query.items() if v}),
    }
    return render(request, "market/bars.html", context, status=400 if errors else 200)


def _chart_error(request: HttpRequest, code: str, message: str, status: int) -> HttpResponse:
    return render(request, "market/chart.html", {"code": code, "error": message}, status=status)


def _chart_labels() -> dict[str, str]:
    return {
        "entry": _("진입"),
        "exit": _("청산"),
        "signal": _("신호"),
        "buy": _("매수"),
        "sell": _("매도"),
        "orHigh": _("시가 범위 고가"),
        "orLow": _("시가 범위 저가"),
        "order": _("주문 보기"),
        "empty": _("이 날짜의 체결과 신호가 없습니다."),
        "noBars": _("이 날짜에는 저장된 분봉이 없습니다."),
        "loadFailed": _("차트 데이터를 불러오지 못했습니다."),
    }


def chart_page(request: HttpRequest, code: str) -> HttpResponse:
    """GET /chart/<code>/?date=YYYY-MM-DD (default: the latest day with minute bars of the code)."""
    return chart_render(request, code)


def chart_render(
    request: HttpRequest, code: str, overlay: dict[str, Any] | None = None
) -> HttpResponse:
    """The chart page of `code`. `overlay` (another app's markers over the same bars, e.g. a backtest's):
    `markers_url` replaces the live markers (no live marker reloads then), `default_day` the day shown
    without `?date=`, `title` and `back_url` head the page."""
    clean = clean_stock_code(code)
    instrument = selectors.instrument_get(clean) if clean else None
    if instrument is None:
        message = _("종목을 찾을 수 없습니다: %(code)s") % {"code": code}
        return _chart_error(request, code, message, 404)
    raw_date = request.GET.get("date", "").strip()
    day: dt.date | None = None
    if raw_date:
        try:
            day = dt.date.fromisoformat(raw_date)
        except ValueError:
            message = _("날짜는 YYYY-MM-DD 형식이어야 합니다: %(value)s") % {"value": raw_date}
            return _chart_error(request, instrument.code, message, 400)
        if not calendar.covers(day):
            message = _(
                "날짜가 거래소 달력 범위(%(first)s ~ %(last)s)를 벗어났습니다: %(value)s"
            ) % {
                "first": calendar.FIRST_DAY.isoformat(),
                "last": calendar.LAST_DAY.isoformat(),
                "value": raw_date,
            }
            return _chart_error(request, instrument.code, message, 400)
    elif overlay and overlay.get("default_day"):
        day = overlay["default_day"]
    else:
        day = selectors.latest_minute_bar_day(instrument.code)
    previous_day, next_day = (
        selectors.minute_bar_days_around(instrument.code, day) if day else (None, None)
    )
    config = {
        "code": instrument.code,
        "date": day.isoformat() if day else None,
        "explicitDate": bool(raw_date) or overlay is not None,
        "barsUrl": reverse("market:chart", args=[instrument.code]),
        "markersUrl": reverse("market:chart-markers", args=[instrument.code]),
        "openingRangeMinutes": settings.CHART_OPENING_RANGE_MINUTES,
        "language": request.LANGUAGE_CODE,
        "labels": _chart_labels(),
        "liveMarkers": overlay is None,
    }
    if overlay is not None:
        config["markersUrl"] = overlay["markers_url"]
    context = {
        "code": instrument.code,
        "instrument": instrument,
        "day": day,
        "previous_day": previous_day,
        "next_day": next_day,
        "config": config,
        "chart_library": CHART_LIBRARY,
        "opening_range_minutes": settings.CHART_OPENING_RANGE_MINUTES,
        "overlay": overlay,
    }
    return render(request, "market/chart.html", context)
