"""`GET /api/v1/scanner/top` (seed 004 §8.2, "장초 거래대금 TOP N"): the opening scanner's run in force
with its candidates. Any logged-in user reads it (viewer and trader alike)."""

from __future__ import annotations

import datetime as dt
import re

from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conditions.api import parse_moment
from apps.core.openapi import errors, query
from krx import KST

from .scanner_models import ScanSnapshot
from .scanner_selectors import snapshot_at, snapshot_dict, snapshot_rows

MAX_LIMIT = 200
_CLOCK = re.compile(r"^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$")
_LIMIT = re.compile(r"^[0-9]{1,4}$")


def _day(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    try:
        day = parse_date(raw.strip())
    except ValueError:
        day = None
    if day is None:
        raise ValidationError({"day": _("YYYY-MM-DD 날짜가 아닙니다: %(value)s") % {"value": raw}})
    return day


def _limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not _LIMIT.match(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError(
            {"limit": _("limit은 1~%(max)s 사이의 정수여야 합니다.") % {"max": MAX_LIMIT}}
        )
    return int(raw)


def _at(raw: str | None, day: dt.date | None) -> tuple[dt.datetime | None, dt.date | None]:
    """`at` is an ISO 8601 moment (naive: KST) or a KST clock time `HH:MM` on `day` (default: the day
    of the latest run)."""
    if not raw:
        return None, day
    value = raw.strip()
    if not _CLOCK.match(value):
        return parse_moment("at", value), day
    try:
        clock = dt.time.fromisoformat(value.zfill(5) if len(value) == 4 else value)
    except ValueError:
        raise ValidationError(
            {"at": _("HH:MM 시각이 아닙니다: %(value)s") % {"value": raw}}
        ) from None
    if day is None:
        latest = ScanSnapshot.objects.order_by("-at").values_list("day", flat=True).first()
        if latest is None:
            return None, None
        day = latest
    return dt.datetime.combine(day, clock, tzinfo=KST), day


_DEC = {"allow_null": True, "help_text": "decimal string (2 places)"}
_ITEM = inline_serializer(
    "ScannerItem",
    {
        "rank": serializers.IntegerField(),
        "code": serializers.CharField(),
        "name": serializers.CharField(allow_blank=True),
        "price": serializers.IntegerField(allow_null=True),
        "change_pct": serializers.CharField(**_DEC),
        "value_krw": serializers.IntegerField(allow_null=True),
        "value_estimated": serializers.BooleanField(),
        "volume": serializers.IntegerField(allow_null=True),
        "volume_ratio": serializers.CharField(**_DEC),
        "news_score": serializers.IntegerField(allow_null=True),
        "value_rank": serializers.IntegerField(allow_null=True),
        "surge_rank": serializers.IntegerField(allow_null=True),
        "gain_rank": serializers.IntegerField(allow_null=True),
    },
    many=True,
)
_TOP = inline_serializer(
    "ScannerTop",
    {
        "snapshot_id": serializers.IntegerField(allow_null=True),
        "at": serializers.DateTimeField(allow_null=True),
        "at_kst": serializers.CharField(required=False),
        "day": serializers.DateField(allow_null=True),
        "trigger": serializers.ChoiceField(["schedule", "manual"], required=False),
        "sources": serializers.ListField(child=serializers.CharField(), required=False),
        "duration_ms": serializers.IntegerField(allow_null=True, required=False),
        "news": serializers.ChoiceField(["ok", "unavailable", "absent"], required=False),
        "error": serializers.CharField(allow_blank=True, required=False),
        "excluded": serializers.ListField(child=serializers.DictField(), required=False),
        "count": serializers.IntegerField(),
        "items": _ITEM,
    },
)


class ScannerTopView(APIView):
    """GET /api/v1/scanner/top?limit=&day=&at= — the run in force (default the latest; `day` the latest
    of that day; `at` the last one at or before that moment: a replay of the day's first hour) and its
    candidates ranked by trading value. No run yet: `snapshot_id` null and no items."""

    @extend_schema(
        summary="Opening scanner TOP N (seed 004 §8.2)",
        parameters=[
            query("limit", "rows, 1–200", int),
            query("day", "YYYY-MM-DD: the latest run of that day", dt.date),
            query(
                "at", "ISO 8601 (naive: KST) or HH:MM KST on `day`: the last run at or before it"
            ),
        ],
        responses={200: _TOP, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = _limit(params.get("limit"))
        at, day = _at(params.get("at"), _day(params.get("day")))
        snapshot = snapshot_at(day, at) if (at is not None or day is not None) else snapshot_at()
        if snapshot is None:
            return Response({"snapshot_id": None, "at": None, "day": None, "count": 0, "items": []})
        return Response(snapshot_dict(snapshot, snapshot_rows(snapshot, limit)))
