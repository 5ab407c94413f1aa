"""Pages of the conditions app (thin): the condition list and one condition's members and events.

Both pages are read-only HTML that any logged-in user sees; the trader's controls (switches, "search now",
list sync) call the JSON API, which enforces the trader role, and the pages follow `conditions.update`
events on /ws/live.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from apps.conditions import selectors
from apps.conditions.models import Condition, EventKind, PriceSource, Source
from apps.core.pagination import page_of

EVENTS_PER_PAGE = 25  # the feed is paged: a busy condition must not grow the page without end


def ui_labels() -> dict[str, Any]:
    """Strings the page script needs, in the user's language."""
    return {
        "kind": {value: str(label) for value, label in EventKind.choices},
        "source": {value: str(label) for value, label in Source.choices},
        "on": "ON",
        "off": "OFF",
        "searching": _("검색 중…"),
        "searched": _("검색 완료: %(count)s종목 (편입 %(entries)s, 이탈 %(exits)s)"),
        "baseline": _("기준 스냅샷을 기록했습니다 (알림 없음)."),
        "saved": _("저장했습니다."),
        "synced": _(
            "동기화 완료: 추가 %(created)s, 이름 변경 %(renamed)s, 목록에서 빠짐 %(unlisted)s"
        ),
        "failed": _("실패"),
        "unlisted": _("HTS에 없음"),
        "none": _("편입 종목이 없습니다."),
        "noEvents": _("편입/이탈 기록이 없습니다."),
        "chart": _("차트"),
        "priceSource": {value: str(label) for value, label in PriceSource.choices},
    }


def condition_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "conditions/list.html",
        {"conditions": selectors.conditions_list(), "labels": ui_labels()},
    )


def condition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """`?page=N` pages the entry/exit feed (newest first); `?flat=1` shows a flapping stock's events one by
    one instead of collapsed into one row."""
    cond = get_object_or_404(Condition, pk=pk)
    feed = page_of(selectors.events_of(cond), request.GET.get("page"), EVENTS_PER_PAGE)
    flat = request.GET.get("flat") == "1"
    context = {
        "condition": cond,
        "members": selectors.members_of(cond),
        "last_run": selectors.last_run(cond),
        "feed": feed,
        "rows": selectors.feed_rows(list(feed.object_list), collapse=not flat),
        "flat": flat,
        "recent_events": EVENTS_PER_PAGE,
        "labels": ui_labels(),
    }
    return render(request, "conditions/detail.html", context)
