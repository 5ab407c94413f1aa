"""Pages of the market app (thin): a read-only browser of the stored daily and minute bars.

The bar tables have composite primary keys, which Django's admin does not support; this page
replaces the admin lists. Any logged-in user may view it (LoginRequiredMiddleware). Bar tables
hold millions of rows, so pages are fetched by offset with one extra row to tell whether a
next page exists: no COUNT(*).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.market import selectors
from krx.codes import clean_stock_code

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
