"""Market-data REST API (thin): the chart endpoint for the dashboard."""

from __future__ import annotations

import datetime as dt

from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.market import selectors
from apps.market.status import market_status


class ChartApi(APIView):
    """GET /api/v1/market/chart/<code>?date=YYYY-MM-DD: one day's minute bars + indicators.

    Without `date`, the latest day that has minute bars for the code.
    """

    permission_classes = [IsAuthenticated]

    def get(self, request: Request, code: str) -> Response:
        instrument = selectors.instrument_get(code)
        if instrument is None:
            return Response(
                {
                    "detail": f"unknown code {code}",
                    "hint": "load the instrument master first: manage.py import_instruments FILE "
                    "or --from-broker (the simulator demo loads it on first start)",
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        raw = request.query_params.get("date")
        if raw:
            try:
                day = dt.date.fromisoformat(raw)
            except ValueError:
                return Response(
                    {"detail": "date must be YYYY-MM-DD"}, status=status.HTTP_400_BAD_REQUEST
                )
        else:
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
        return Response(selectors.chart_data(instrument, day))


class MarketStatusApi(APIView):
    """GET /api/v1/market/status: the exchange's clock, the market phase and when it next changes."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(market_status().as_dict())
