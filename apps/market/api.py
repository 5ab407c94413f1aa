"""Market-data REST API (thin): the chart endpoints (bars + indicators, markers) and the market status."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.market import chart, selectors
from apps.market.models import Instrument
from apps.market.status import market_status
from krx import calendar

CALENDAR_RANGE = (
    f"date is outside the KRX calendar ({calendar.FIRST_DAY.isoformat()} to "
    f"{calendar.LAST_DAY.isoformat()})"
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


def _date_param(request: Request) -> dt.date | Response | None:
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

    def get(self, request: Request, code: str) -> Response:
        instrument = selectors.instrument_get(code)
        if instrument is None:
            return _unknown_code(code)
        day = _date_param(request)
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

    def get(self, request: Request, code: str) -> Response:
        if not Instrument.objects.filter(code=code).exists():
            return _unknown_code(code)
        day = _date_param(request)
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

    def get(self, request: Request) -> Response:
        return Response(market_status().as_dict())
