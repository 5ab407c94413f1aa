"""REST API of the news app: `POST /api/v1/news` (any source pushes items; trader role) and
`GET /api/v1/news?code=&since=` (any logged-in user). Thin: validation here, storing in services."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.openapi import errors, query

from .contract import NewsItem as NewsItemData
from .models import NewsItem, NewsOrigin
from .parsing import HEADLINE_MAX, SOURCE_MAX, URL_MAX, InvalidNews, parse_code
from .selectors import news_list
from .services import news_store

MAX_UTC_OFFSET = timedelta(hours=14)  # the widest offset in use (UTC+14, Line Islands)
PUBLISHED_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@extend_schema_field({"type": "string", "pattern": "^A?[0-9A-Z]{6}$", "example": "005930"})
class CodeField(serializers.CharField):
    def to_internal_value(self, data: object) -> str:
        try:
            return parse_code(super().to_internal_value(data))
        except InvalidNews as exc:
            raise ValidationError(exc.reason) from None


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset: a time without one is refused, not read in the server's zone."""

    def to_internal_value(self, value: object) -> datetime:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValidationError("an ISO 8601 time with a UTC offset is required") from None
            if parsed.tzinfo is None:
                raise ValidationError("the time needs a UTC offset (e.g. +09:00)")
            offset = parsed.utcoffset()
            if offset is None or abs(offset) > MAX_UTC_OFFSET:
                raise ValidationError("the UTC offset must be within ±14:00")
            if not PUBLISHED_RANGE[0] <= parsed <= PUBLISHED_RANGE[1]:
                # Also keeps the output in RFC 3339: Seoul's offset before 1908 had seconds (LMT).
                raise ValidationError("the time must be between 1970 and 2100")
            return parsed
        raise ValidationError("an ISO 8601 time with a UTC offset is required")


class NewsItemInSerializer(serializers.Serializer):
    code = CodeField()
    score = serializers.IntegerField(min_value=0, max_value=100)
    headline = serializers.CharField(max_length=HEADLINE_MAX)
    source = serializers.CharField(max_length=SOURCE_MAX)
    published_at = AwareDateTimeField()
    url = serializers.URLField(max_length=URL_MAX, required=False, allow_blank=True, default="")

    def to_internal_value(self, data: object) -> dict:
        if isinstance(data, dict) and isinstance(data.get("score"), bool | float):
            raise ValidationError({"score": ["an integer 0-100 is required"]})
        return super().to_internal_value(data)

    def item(self, data: dict) -> NewsItemData:
        return NewsItemData(**data)


class NewsItemOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = NewsItem
        fields = [
            "id",
            "code",
            "score",
            "headline",
            "source",
            "published_at",
            "url",
            "origin",
            "received_at",
        ]


_STORED = inline_serializer(
    "NewsStored",
    {
        "created": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "items": NewsItemOutSerializer(many=True),
    },
)


@extend_schema_view(
    get=extend_schema(
        summary="Stored news items, newest first",
        parameters=[
            query("code", "6-digit stock code"),
            query("since", "ISO 8601 time with a UTC offset, or a date YYYY-MM-DD (KST)"),
        ],
        responses={200: NewsItemOutSerializer(many=True), **errors(400)},
    ),
    post=extend_schema(
        summary="Push news items (trader)",
        description="One item or a list (at most NEWS_API_MAX_ITEMS); a bad item rejects the "
        "whole request (400 naming the item's index and field), storing nothing; idempotent on "
        "code + time + source + headline.",
        request={"application/json": NewsItemInSerializer(many=True)},
        examples=[
            OpenApiExample(
                "one item in a list",
                [
                    {
                        "code": "005930",
                        "score": 80,
                        "headline": "삼성전자, 신규 수주 공시",
                        "source": "dart",
                        "published_at": "2026-11-30T09:05:00+09:00",
                    }
                ],
                request_only=True,
            )
        ],
        responses={
            201: _STORED,
            200: OpenApiResponse(_STORED, description="every item was stored before"),
            **errors(400),
        },
    ),
)
class NewsView(ListAPIView):
    """GET: items newest first (`code`, `since`: ISO time with offset or YYYY-MM-DD, KST); POST: one item
    or a list. A bad item rejects the whole request (400 naming the item's field), storing nothing; an
    item stored before is not stored again (200 when every item was a duplicate, else 201)."""

    serializer_class = NewsItemOutSerializer

    def get_queryset(self):
        params = self.request.query_params
        code = params.get("code") or None
        if code is not None:
            try:
                code = parse_code(code)
            except InvalidNews as exc:
                raise ValidationError({"code": [exc.reason]}) from None
        return news_list(code, _since(params.get("since")))

    def post(self, request: Request) -> Response:
        many = isinstance(request.data, list)
        if many and not request.data:
            raise ValidationError({"non_field_errors": ["at least one item is required"]})
        if many and len(request.data) > settings.NEWS_API_MAX_ITEMS:
            raise ValidationError(
                {"non_field_errors": [f"at most {settings.NEWS_API_MAX_ITEMS} items per request"]}
            )
        body = NewsItemInSerializer(data=request.data, many=many)
        body.is_valid(raise_exception=True)
        rows = body.validated_data if many else [body.validated_data]
        items = [NewsItemData(**row) for row in rows]
        result = news_store(items, NewsOrigin.API, publish=True)
        out = {
            "created": len(result.created),
            "duplicates": len(result.duplicates),
            "items": NewsItemOutSerializer(result.created + result.duplicates, many=True).data,
        }
        return Response(
            out, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.strip().replace(" ", "+")  # an unescaped "+09:00" arrives as " 09:00"
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(0), tzinfo=timezone.get_default_timezone())
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {"since": ["an ISO 8601 time with a UTC offset or a date YYYY-MM-DD is required"]}
        ) from None
    if moment.tzinfo is None:
        raise ValidationError({"since": ["the time needs a UTC offset (e.g. +09:00)"]})
    try:
        # PostgreSQL takes offsets up to ±15:59 only, and the moment must exist in UTC.
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError({"since": ["the time is out of range"]}) from None
