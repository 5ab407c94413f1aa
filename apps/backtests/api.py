"""REST API of backtests (issue 16), thin views. Reads are open to any logged-in user; launching and
cancelling need the trader role (`IsTraderOrReadOnly`: viewers get 403 and nothing changes).

- `GET /api/v1/backtests?status=&strategy=` — runs, newest first (limit/offset pages, capped count);
- `POST /api/v1/backtests` — validate (the body's shape, then `services.backtest_create`, the code of
  `manage.py backtest`) and queue `backtests.run`; 202 with the run; a bad body is a 400 naming each field
  and stores nothing;
- `GET /api/v1/backtests/{id}` — parameters, status, progress, metrics, equity series, trades;
- `POST /api/v1/backtests/{id}/cancel` — ask a queued or running run to stop (409 when it is finished).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import ErrorsSerializer, errors, query
from apps.core.pagination import LimitOffsetPages

from .models import BacktestRun, RunStatus
from .serializers import (
    BacktestCreateSerializer,
    BacktestRunDetailSerializer,
    BacktestRunSerializer,
)
from .services import BacktestInvalid, backtest_cancel, backtest_launch


@extend_schema_view(
    get=extend_schema(
        summary="Backtest runs, newest first",
        parameters=[
            query("status", "a run status", enum=list(RunStatus.values)),
            query("strategy", "strategy name"),
        ],
        responses={200: BacktestRunSerializer(many=True), **errors(400)},
    ),
    post=extend_schema(
        summary="Launch a backtest (trader)",
        description="Validated as `manage.py backtest` validates; 202 with the queued run "
        "(`backtests.run` on the `reports` worker). A bad body → 400 naming each field (the body's "
        "shape: `{field: [...]}`; the strategy's checks: `{detail, errors: {field: [...]}}`), nothing "
        "stored.",
        request=BacktestCreateSerializer,
        responses={
            202: BacktestRunDetailSerializer,
            **errors(400, _400=OpenApiResponse(ErrorsSerializer, description="invalid backtest")),
        },
    ),
)
class BacktestListView(ListAPIView):
    serializer_class = BacktestRunSerializer
    pagination_class = LimitOffsetPages

    def get_queryset(self):
        qs = BacktestRun.objects.select_related("created_by").order_by("-created_at", "-id")
        status = self.request.query_params.get("status")
        if status:
            if status not in RunStatus.values:
                raise ValidationError({"status": [f"one of {', '.join(RunStatus.values)}"]})
            qs = qs.filter(status=status)
        strategy = self.request.query_params.get("strategy")
        if strategy:
            qs = qs.filter(strategy=strategy[:50])
        return qs

    def post(self, request: Request) -> Response:
        body = BacktestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = backtest_launch(body.validated_data, user=request.user)
        except BacktestInvalid as exc:
            return Response({"detail": "invalid backtest", "errors": exc.errors}, status=400)
        return Response(BacktestRunDetailSerializer(run).data, status=202)


class BacktestDetailView(APIView):
    @extend_schema(
        summary="One backtest: parameters, status, progress, metrics, equity series, trades",
        responses={200: BacktestRunDetailSerializer, **errors(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(BacktestRun.objects.select_related("created_by"), pk=pk)
        return Response(BacktestRunDetailSerializer(run).data)


class BacktestCancelView(APIView):
    @extend_schema(
        summary="Cancel a queued or running backtest (trader)",
        description="A queued run is cancelled at once; a running one stops after the day in progress. "
        "409 when it is already finished.",
        request=None,
        responses={200: BacktestRunDetailSerializer, **errors(404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(BacktestRun, pk=pk)
        if not backtest_cancel(pk):
            return Response({"detail": "the run is finished"}, status=409)
        run = BacktestRun.objects.select_related("created_by").get(pk=pk)
        return Response(BacktestRunDetailSerializer(run).data)
