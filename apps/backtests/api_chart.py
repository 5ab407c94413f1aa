"""`GET /api/v1/backtests/{id}/markers/{code}?date=YYYY-MM-DD`: a backtest's entries and exits of one
code and day, in the live chart's marker shape (`apps.backtests.chart`); the chart page
(`/chart/<code>/?backtest=<id>`) draws them over the stored minute bars the run replayed. Without
`date`: the first day the run traded the code (its first day when it never did)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import errors
from apps.market.api import CODE_PARAM, DATE_PARAM, MARKERS_SCHEMA, date_param

from .chart import backtest_markers, backtest_trade_days
from .models import BacktestRun

_RUN = OpenApiParameter("pk", int, OpenApiParameter.PATH, description="backtest run id")


class BacktestMarkersView(APIView):
    @extend_schema(
        summary="A backtest's entry/exit markers of one code and day",
        parameters=[_RUN, CODE_PARAM, DATE_PARAM],
        responses={200: MARKERS_SCHEMA, **errors(400, 404)},
    )
    def get(self, request: Request, pk: int, code: str) -> Response:
        run = get_object_or_404(BacktestRun, pk=pk)
        day = date_param(request)
        if isinstance(day, Response):
            return day
        if day is None:
            days = backtest_trade_days(run, code)
            day = days[0] if days else run.date_from
        return Response(backtest_markers(run, code, day))
