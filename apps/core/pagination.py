"""Bounded pagination for every list page and list API (issue 17, "Speed at real size").

With a million orders an exact `COUNT(*)` and a deep `OFFSET` are what make a list slow, not the page
itself. So every list here is bounded three ways:

- the page size has a ceiling (`MAX_PAGE_SIZE`; a larger request gets the ceiling);
- the count stops at `settings.LIST_COUNT_CAP` (default 10,000): `COUNT(*)` of the first cap+1 rows of the
  filtered query, never of the whole table. Past the cap the count reads "10,000+" (`count_exact` false in
  the API) and the last page is the one that holds row 10,000;
- pages past the cap don't exist (404 "Invalid page", as for any page out of range; a limit/offset list
  answers 400 for an offset past the cap): narrow the list with its filters (dates, code, ...) to reach
  older rows.

The API shapes stay DRF's: `{count, next, previous, results}` plus `count_exact`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def count_cap() -> int:
    return int(getattr(settings, "LIST_COUNT_CAP", 10_000))


def capped_count(object_list: Any, cap: int) -> int:
    """`min(len(object_list), cap + 1)` in one bounded query (a list is measured directly)."""
    if hasattr(object_list, "query"):
        return object_list.order_by()[: cap + 1].count()
    return min(len(object_list), cap + 1)


class CappedPaginator(Paginator):
    """A Django paginator whose count stops at the cap (see the module docstring)."""

    def __init__(self, *args: Any, cap: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cap = count_cap() if cap is None else cap

    @cached_property
    def _raw_count(self) -> int:
        return capped_count(self.object_list, self.cap)

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return min(self._raw_count, self.cap)

    @property
    def count_exact(self) -> bool:
        return self._raw_count <= self.cap


def page_of(object_list: Any, number: Any, per_page: int = PAGE_SIZE) -> Page:
    """The page a list page shows (`?page=`; a bad or out-of-range number shows the nearest page)."""
    return CappedPaginator(object_list, min(per_page, MAX_PAGE_SIZE)).get_page(number)


class Pages(PageNumberPagination):
    """`?page=` and `?page_size=` (default 50, at most 500), capped count."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data["count_exact"] = self.page.paginator.count_exact
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        out = super().get_paginated_response_schema(schema)
        out["properties"]["count_exact"] = {"type": "boolean"}
        return out


class LimitOffsetPages(LimitOffsetPagination):
    """`?limit=` (default 100, at most 500) and `?offset=` (at most the count cap), capped count: the
    project's default API pagination."""

    default_limit = 100
    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        cap = count_cap()
        offset = self.get_offset(request)
        if offset > cap:
            raise ValidationError(
                {
                    "offset": [
                        _("offset은 %(cap)s 이하여야 합니다. 더 오래된 기록은 필터로 좁혀 보세요.")
                        % {"cap": cap}
                    ]
                }
            )
        self._raw_count = capped_count(queryset, cap)
        return super().paginate_queryset(queryset, request, view)

    def get_count(self, queryset: Any) -> int:
        return min(self._raw_count, count_cap())

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data["count_exact"] = self._raw_count <= count_cap()
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        out = super().get_paginated_response_schema(schema)
        out["properties"]["count_exact"] = {"type": "boolean"}
        return out
