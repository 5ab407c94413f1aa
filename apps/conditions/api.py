"""REST API of the conditions app (thin): the condition list and switches, "search now", members, events.

Reads are open to any logged-in user (viewer or trader); writes need the trader role (the project default
permission, `IsTraderOrReadOnly`). The broker is called only by "search now" and "sync", never inside a
database transaction (those views are marked non-atomic even if ATOMIC_REQUESTS is switched on).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.broker.backends import get_broker
from apps.broker.contract import BrokerError
from apps.conditions import selectors, services
from apps.conditions.models import Condition, EventKind, Source
from apps.conditions.serializers import (
    ConditionSerializer,
    EventSerializer,
    MemberSerializer,
    RunSerializer,
)
from apps.core.openapi import errors, query
from apps.core.pagination import Pages
from krx import KST
from krx.codes import clean_stock_code

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OFFSET_LOST_PLUS = re.compile(r"^(.*\d) (\d{2}:?\d{2})$")  # "…T09:00:00 09:00": an unencoded '+'

non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


# --- query parameters -----------------------------------------------------------------------------------
def parse_moment(name: str, raw: str, *, end_of_day: bool = False) -> datetime:
    """ISO 8601 datetime or date; naive values are Korea time. A bare date means its start (or, with
    `end_of_day`, the start of the next day: `until=2026-11-23` includes all of the 23rd)."""
    value = raw.strip()
    if m := _OFFSET_LOST_PLUS.match(value):
        value = f"{m.group(1)}+{m.group(2)}"
    moment: datetime | None = None
    day: date | None = None
    try:
        if _DATE_ONLY.match(value):
            day = parse_date(value)
        else:
            moment = parse_datetime(value)
    except ValueError:
        moment, day = None, None
    if moment is None and day is None:
        raise ValidationError(
            {name: _("ISO 8601 날짜 또는 시각이 아닙니다: %(value)s") % {"value": raw}}
        )
    try:
        if moment is None:
            assert day is not None
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time(0))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=KST)
        # Stored in UTC: 0001-01-01 KST or 9999-12-31 + 1 day do not exist there; and PostgreSQL takes
        # offsets up to ±15:59 only, so the moment goes to the database in UTC.
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError(
            {name: _("날짜가 범위를 벗어났습니다: %(value)s") % {"value": raw}}
        ) from None
    return moment


def event_filters(params: Any) -> dict[str, Any]:
    """`code`, `kind`, `since` (inclusive), `until` (exclusive) → keyword arguments of `events_of()`."""
    filters: dict[str, Any] = {}
    raw_code = (params.get("code") or "").strip()
    if raw_code:
        code = clean_stock_code(raw_code)
        if code is None:
            raise ValidationError(
                {"code": _("종목코드는 6자리여야 합니다: %(value)s") % {"value": raw_code}}
            )
        filters["code"] = code
    kind = (params.get("kind") or "").strip()
    if kind:
        if kind not in EventKind.values:
            raise ValidationError(
                {"kind": _("kind는 entry 또는 exit 이어야 합니다: %(value)s") % {"value": kind}}
            )
        filters["kind"] = kind
    if params.get("since"):
        filters["since"] = parse_moment("since", params["since"])
    if params.get("until"):
        filters["until"] = parse_moment("until", params["until"], end_of_day=True)
    if "since" in filters and "until" in filters and filters["since"] >= filters["until"]:
        raise ValidationError({"until": _("until은 since보다 뒤여야 합니다.")})
    return filters


class EventPagination(Pages):
    """`Pages` (capped count) with a clear error for a page_size that is not a positive integer."""

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {"page_size": _("page_size는 1 이상의 정수여야 합니다: %(value)s") % {"value": raw}}
            )
        return min(size, self.max_page_size)


# --- payloads -------------------------------------------------------------------------------------------
def results_payload(cond: Condition) -> dict[str, Any]:
    run = selectors.last_run(cond)
    return {
        "condition": ConditionSerializer(cond).data,
        "members": MemberSerializer(selectors.members_of(cond), many=True).data,
        "last_run": RunSerializer(run).data if run else None,
    }


_RESULTS_FIELDS = {
    "condition": ConditionSerializer(),
    "members": MemberSerializer(many=True),
    "last_run": RunSerializer(allow_null=True),
}
_RESULTS = inline_serializer("ConditionResults", _RESULTS_FIELDS)
_SEARCH = inline_serializer(
    "ConditionSearch",
    {
        **_RESULTS_FIELDS,
        "result": inline_serializer(
            "ConditionSearchResult",
            {
                "run_id": serializers.IntegerField(allow_null=True),
                "member_count": serializers.IntegerField(),
                "entries": serializers.IntegerField(),
                "exits": serializers.IntegerField(),
                "baseline": serializers.BooleanField(),
                "error": serializers.CharField(allow_blank=True, allow_null=True),
            },
        ),
        "events": EventSerializer(many=True),
        "detail": serializers.CharField(required=False),
    },
)
_PATCH = inline_serializer(
    "ConditionPatch",
    {
        "active": serializers.BooleanField(required=False),
        "realtime": serializers.BooleanField(required=False),
        "notify_entry": serializers.BooleanField(required=False),
        "notify_exit": serializers.BooleanField(required=False),
        "alert_hold_seconds": serializers.IntegerField(min_value=0, max_value=3600, required=False),
    },
)
_SYNC = inline_serializer(
    "ConditionSync",
    {
        name: serializers.ListField(child=serializers.CharField(), help_text="condition seqs")
        for name in ("created", "renamed", "unlisted", "relisted")
    },
)
_EVENT_PARAMS = [
    query("code", "6-digit stock code"),
    query("kind", "entry or exit", enum=["entry", "exit"]),
    query("since", "ISO 8601 datetime or date (naive: KST), inclusive"),
    query("until", "ISO 8601 datetime or date (naive: KST); a date includes that whole day"),
]


def _condition(pk: int) -> Condition:
    return get_object_or_404(Condition, pk=pk)


# --- views ----------------------------------------------------------------------------------------------
class ConditionListView(APIView):
    """GET /api/v1/conditions — every condition (listed or not), by account and seq."""

    @extend_schema(
        summary="Condition searches",
        responses={200: ConditionSerializer(many=True), **errors()},
        operation_id="conditions_list",
    )
    def get(self, request: Request) -> Response:
        return Response(ConditionSerializer(selectors.conditions_list(), many=True).data)


class ConditionDetailView(APIView):
    """GET / PATCH /api/v1/conditions/{id} — PATCH the switches: active, realtime, notify_entry,
    notify_exit (booleans), and alert_hold_seconds (0…3600). A refused change saves nothing and answers
    400 with the reason."""

    @extend_schema(summary="One condition", responses={200: ConditionSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ConditionSerializer(_condition(pk)).data)

    @extend_schema(
        summary="Flip a condition's switches (trader)",
        description="More than CONDITIONS_MAX_REALTIME realtime → 400; realtime on turns the check "
        "on, active off turns realtime off.",
        request=_PATCH,
        examples=[
            OpenApiExample("watch live", {"realtime": True}, request_only=True),
            OpenApiExample("hold alerts 60 s", {"alert_hold_seconds": 60}, request_only=True),
        ],
        responses={200: ConditionSerializer, **errors(400, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        cond = _condition(pk)
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": _("JSON 객체를 보내야 합니다.")})
        unknown = sorted(set(request.data) - set(services.TOGGLES) - set(services.SETTINGS))
        if unknown:
            raise ValidationError({key: [_("바꿀 수 없는 항목입니다.")] for key in unknown})
        if not request.data:
            raise ValidationError(
                {"detail": _("바꿀 항목이 없습니다 (active, realtime, notify_entry, notify_exit).")}
            )
        changes: dict[str, bool | int] = {}
        for key, value in request.data.items():
            if key in services.SETTINGS:
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not 0 <= value <= services.MAX_ALERT_HOLD_SECONDS
                ):
                    raise ValidationError({key: [_("0에서 3600 사이의 정수(초)여야 합니다.")]})
            elif not isinstance(value, bool):
                raise ValidationError({key: [_("true 또는 false 여야 합니다.")]})
            changes[key] = value
        try:
            cond = services.condition_update(cond, **changes)
        except services.ConditionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ConditionSerializer(cond).data)


@non_atomic
class ConditionSearchView(APIView):
    """POST /api/v1/conditions/{id}/search — search now (source "manual") and apply the result.
    200 with the run and the current members; 502 when the broker search failed (the failure is recorded
    as a run and as the condition's last error; the members are left as they were)."""

    @extend_schema(
        summary="Search now (trader)",
        request=None,
        responses={
            200: _SEARCH,
            **errors(400, 404),
            502: _SEARCH,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        cond = _condition(pk)
        if not cond.listed:
            return Response(
                {"detail": _("HTS 목록에 없는 조건식은 검색할 수 없습니다.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            broker = get_broker()
        except Exception as exc:  # misconfigured backend: report, do not crash the page
            return Response(
                {"detail": _("증권사 연결을 만들 수 없습니다: %(error)s") % {"error": exc}},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        result = services.condition_check(cond, broker, source=Source.MANUAL)
        cond.refresh_from_db()
        body = results_payload(cond)
        event_ids = [*result.entries, *result.exits]
        events = selectors.events_of(cond).filter(pk__in=event_ids) if event_ids else []
        body["result"] = {
            "run_id": result.run_id,
            "member_count": result.member_count,
            "entries": len(result.entries),
            "exits": len(result.exits),
            "baseline": result.baseline,
            "error": result.error,
        }
        body["events"] = EventSerializer(events, many=True).data
        if result.error:
            body["detail"] = _("조건검색에 실패했습니다: %(error)s") % {"error": result.error}
            return Response(body, status=status.HTTP_502_BAD_GATEWAY)
        return Response(body)


class ConditionResultsView(APIView):
    """GET /api/v1/conditions/{id}/results — current members and the last run."""

    @extend_schema(summary="Current members", responses={200: _RESULTS, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(results_payload(_condition(pk)))


@extend_schema_view(
    get=extend_schema(
        summary="Entries and exits of every condition, newest first",
        parameters=_EVENT_PARAMS,
        operation_id="conditions_events_list",
        responses={200: EventSerializer(many=True), **errors(400, 404)},
    )
)
class EventListView(ListAPIView):
    """GET /api/v1/conditions/events and /api/v1/conditions/{id}/events — newest first, paged
    (`page`, `page_size` ≤ 500), filters `code`, `kind` (entry|exit), `since`, `until`."""

    serializer_class = EventSerializer
    pagination_class = EventPagination

    def get_queryset(self):
        filters = event_filters(self.request.query_params)
        pk = self.kwargs.get("pk")
        cond = _condition(pk) if pk is not None else None
        return selectors.events_of(cond, **filters)


@extend_schema_view(
    get=extend_schema(
        summary="Entries and exits of one condition, newest first",
        operation_id="condition_events_list",
    )
)
class ConditionEventListView(EventListView):
    """GET /api/v1/conditions/{id}/events (its own operation in the schema)."""


@non_atomic
class ConditionSyncView(APIView):
    """POST /api/v1/conditions/sync — read the HTS condition list (CNSRLST) and update the table."""

    @extend_schema(
        summary="Pull the HTS condition list (trader)",
        request=None,
        responses={200: _SYNC, **errors(502)},
    )
    def post(self, request: Request) -> Response:
        try:
            result = services.conditions_sync_from_broker(get_broker())
        except BrokerError as exc:
            return Response(
                {"detail": _("조건식 목록을 가져오지 못했습니다: %(error)s") % {"error": exc}},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        return Response(
            {
                "created": result.created,
                "renamed": result.renamed,
                "unlisted": result.unlisted,
                "relisted": result.relisted,
            }
        )
