"""Market-data REST API (thin): the chart endpoints (bars + indicators, markers) and the market status."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import errors, query
from apps.market import chart, selectors
from apps.market.models import Instrument
from apps.market.status import market_status
from krx import calendar

CALENDAR_RANGE = (
    f"date is outside the KRX calendar ({calendar.FIRST_DAY.isoformat()} to "
    f"{calendar.LAST_DAY.isoformat()})"
)


_NUM = {"allow_null": True}
_BAR = inline_serializer(
    "ChartBar",
    {
        "time": serializers.CharField(help_text="end of the minute, KST ISO 8601"),
        "open": serializers.IntegerField(),
        "high": serializers.IntegerField(),
        "low": serializers.IntegerField(),
        "close": serializers.IntegerField(),
        "volume": serializers.IntegerField(),
        "value": serializers.IntegerField(help_text="traded value KRW; 0 when the source had none"),
        **{
            name: serializers.FloatField(**_NUM)
            for name in ("vwap", "vwap_upper", "vwap_lower", "bb_middle", "bb_upper", "bb_lower")
        },
        "atr": serializers.FloatField(**_NUM),
    },
    many=True,
)
_CHART = inline_serializer(
    "Chart",
    {
        "code": serializers.CharField(),
        "name": serializers.CharField(),
        "date": serializers.DateField(allow_null=True),
        "bars": _BAR,
        "opening_range": inline_serializer(
            "OpeningRange",
            {
                "high": serializers.IntegerField(),
                "low": serializers.IntegerField(),
                "minutes": serializers.IntegerField(),
                "start": serializers.CharField(),
                "end": serializers.CharField(),
            },
            allow_null=True,
            required=False,
        ),
        "session": inline_serializer(
            "ChartSession",
            {
                "open": serializers.CharField(),
                "close": serializers.CharField(),
                "expected_bars": serializers.IntegerField(),
            },
            required=False,
        ),
        "hint": serializers.CharField(required=False),
    },
)
MARKERS_SCHEMA = inline_serializer(
    "ChartMarkers",
    {
        "code": serializers.CharField(),
        "date": serializers.DateField(allow_null=True),
        "markers": inline_serializer(
            "ChartMarker",
            {
                "kind": serializers.ChoiceField(["entry", "exit", "signal"]),
                "time": serializers.CharField(help_text="end of the minute bar, KST ISO 8601"),
                "at": serializers.CharField(),
                "side": serializers.CharField(),
                "strategy": serializers.CharField(allow_blank=True),
                "price": serializers.JSONField(
                    help_text="entry/exit: average fill price, decimal string; signal: integer KRW"
                ),
                "quantity": serializers.IntegerField(required=False),
                "cause": serializers.CharField(required=False),
                "cause_label": serializers.CharField(required=False),
                "account_no": serializers.CharField(required=False),
                "order_id": serializers.CharField(allow_null=True),
                "order_url": serializers.CharField(required=False),
                "reason": serializers.CharField(required=False),
                "status": serializers.CharField(required=False),
                "status_label": serializers.CharField(required=False),
            },
            many=True,
        ),
    },
)
_STATUS = inline_serializer(
    "MarketStatus",
    {
        "now": serializers.DateTimeField(),
        "now_kst": serializers.CharField(),
        "speed": serializers.FloatField(),
        "phase": serializers.ChoiceField(
            ["pre_open", "session", "closing_auction", "closed", "holiday"]
        ),
        "label": serializers.CharField(),
        "is_open": serializers.BooleanField(),
        "next_change": serializers.DateTimeField(allow_null=True),
    },
)
CODE_PARAM = OpenApiParameter("code", str, OpenApiParameter.PATH, description="6-digit stock code")
DATE_PARAM = query(
    "date", "YYYY-MM-DD within the KRX calendar; default the latest day with bars", dt.date
)


def _unknown_code(code: str) -> Response:
    return Response(
        {
            "detail": f"unknown code {code}",
            "hint": "load the instrument master first: manage.py import_instruments FILE "
            "or --from-broker (the simulator demo loads it on first start)",
        },
        status=status.HTTP_404_NOT_FOUND,
    )


def _bad_date(detail: str = "date must be YYYY-MM-DD") -> Response:
    return Response({"detail": detail}, status=status.HTTP_400_BAD_REQUEST)


def date_param(request: Request) -> dt.date | Response | None:
    """The `date` query parameter: a date, None when absent, or the 400 answer."""
    raw = request.query_params.get("date")
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return _bad_date()
    return day if calendar.covers(day) else _bad_date(CALENDAR_RANGE)


class ChartApi(APIView):
    """GET /api/v1/market/chart/<code>?date=YYYY-MM-DD: one day's minute bars + indicators.

    Without `date`, the latest day that has minute bars for the code.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Minute bars and indicators of a day",
        parameters=[CODE_PARAM, DATE_PARAM],
        responses={200: _CHART, **errors(400, 404)},
    )
    def get(self, request: Request, code: str) -> Response:
        instrument = selectors.instrument_get(code)
        if instrument is None:
            return _unknown_code(code)
        day = date_param(request)
        if isinstance(day, Response):
            return day
        if day is None:
            day = selectors.latest_minute_bar_day(code)
            if day is None:
                return Response(
                    {
                        "code": code,
                        "name": instrument.name,
                        "date": None,
                        "bars": [],
                        "hint": "no minute bars stored: manage.py import_minute_bars FILE or "
                        "manage.py backfill --from YYYY-MM-DD --to YYYY-MM-DD " + code,
                    }
                )
        return Response(selectors.chart_data(instrument, day, settings.CHART_OPENING_RANGE_MINUTES))


class ChartMarkersApi(APIView):
    """GET /api/v1/market/chart/<code>/markers?date=YYYY-MM-DD: the day's entry/exit markers (fills of
    the code's orders) and strategy signals. Without `date`, the latest day with minute bars."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Entry/exit and signal markers of a day",
        parameters=[CODE_PARAM, DATE_PARAM],
        responses={200: MARKERS_SCHEMA, **errors(400, 404)},
    )
    def get(self, request: Request, code: str) -> Response:
        if not Instrument.objects.filter(code=code).exists():
            return _unknown_code(code)
        day = date_param(request)
        if isinstance(day, Response):
            return day
        if day is None:
            day = selectors.latest_minute_bar_day(code)
            if day is None:
                return Response({"code": code, "date": None, "markers": []})
        return Response(chart.chart_markers(code, day))


class MarketStatusApi(APIView):
    """GET /api/v1/market/status: the exchange's clock, the market phase and when it next changes."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Exchange clock and market phase", responses={200: _STATUS, **errors()})
    def get(self, request: Request) -> Response:
        return Response(market_status().as_dict())
