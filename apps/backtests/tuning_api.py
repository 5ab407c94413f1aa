"""REST API of parameter tuning (issue 16), thin views beside the backtests'. Reads are open to any
logged-in user; launching, cancelling and applying need the trader role (`IsTraderOrReadOnly`).

- `GET /api/v1/tuning?status=&strategy=` — runs, newest first (limit/offset pages);
- `POST /api/v1/tuning` — validate (the body's shape, then `tuning_services.tuning_create`) and fan the
  trials out (`backtests.tuning_trial` ×N, then `backtests.tuning_finish`, on the `reports` queue);
  202 with the run; a bad body is a 400 naming each field and stores nothing;
- `GET /api/v1/tuning/{id}` — the run, its progress (from the trial rows), per-window choice, the
  out-of-sample headline and every trial;
- `POST /api/v1/tuning/{id}/cancel` — cancel (409 when finished);
- `POST /api/v1/tuning/{id}/apply` — a new strategy-config version with the chosen parameters, its
  reason naming the run (400 when the run has no result or the strategy has no live configuration).
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

from .models import RunStatus, TuningRun
from .tuning_selectors import with_progress
from .tuning_serializers import (
    TuningApplySerializer,
    TuningCreateSerializer,
    TuningRunDetailSerializer,
    TuningRunSerializer,
)
from .tuning_services import TuningInvalid, tuning_apply, tuning_cancel, tuning_launch

INVALID = OpenApiResponse(ErrorsSerializer, description="invalid tuning run")


@extend_schema_view(
    get=extend_schema(
        summary="Tuning runs, newest first",
        parameters=[
            query("status", "a run status", enum=list(RunStatus.values)),
            query("strategy", "strategy name"),
        ],
        responses={200: TuningRunSerializer(many=True), **errors(400)},
    ),
    post=extend_schema(
        summary="Launch a tuning run (trader)",
        description="Grid or seeded random search over declared parameter ranges with walk-forward "
        "windows; one `backtests.tuning_trial` task per parameter set × window on the `reports` "
        "queue. 202 with the queued run. A bad body → 400 naming each field (the body's shape: "
        "`{field: [...]}`; the ranges, windows and trial budget: `{detail, errors: {field: [...]}}`), "
        "nothing stored.",
        request=TuningCreateSerializer,
        responses={202: TuningRunDetailSerializer, **errors(400, _400=INVALID)},
    ),
)
class TuningListView(ListAPIView):
    serializer_class = TuningRunSerializer
    pagination_class = LimitOffsetPages

    def get_queryset(self):
        qs = with_progress(TuningRun.objects.select_related("created_by")).order_by(
            "-created_at", "-id"
        )
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
        body = TuningCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = tuning_launch(body.validated_data, user=request.user)
        except TuningInvalid as exc:
            return Response({"detail": "invalid tuning run", "errors": exc.errors}, status=400)
        return Response(TuningRunDetailSerializer(run).data, status=202)


class TuningDetailView(APIView):
    @extend_schema(
        summary="One tuning run: progress, per-window choice, out-of-sample headline, trials",
        parameters=[
            query("trials", "0: leave the trials out (what a progress poll needs)", enum=["0", "1"])
        ],
        responses={200: TuningRunDetailSerializer, **errors(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(TuningRun.objects.select_related("created_by"), pk=pk)
        with_trials = request.query_params.get("trials") != "0"
        return Response(TuningRunDetailSerializer(run, context={"trials": with_trials}).data)


class TuningCancelView(APIView):
    @extend_schema(
        summary="Cancel a tuning run (trader)",
        description="Queued trials are cancelled at once; running ones stop after the day in "
        "progress. 409 when the run is already finished.",
        request=None,
        responses={200: TuningRunSerializer, **errors(404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(TuningRun, pk=pk)
        if not tuning_cancel(pk):
            return Response({"detail": "the run is finished"}, status=409)
        run = TuningRun.objects.select_related("created_by").get(pk=pk)
        return Response(TuningRunSerializer(run).data)


class TuningApplyView(APIView):
    @extend_schema(
        summary="Apply a tuning run's chosen parameters (trader)",
        description="Writes the strategy's next configuration version with the parameters the run "
        "chose (the last walk-forward window's in-sample best); its reason names the run. 400 when "
        "the run is not done or the strategy has no live configuration (a research strategy).",
        request=None,
        responses={200: TuningApplySerializer, **errors(400, 404, _400=INVALID)},
    )
    def post(self, request: Request, pk: int) -> Response:
        get_object_or_404(TuningRun, pk=pk)
        try:
            config, changed = tuning_apply(pk, request.user)
        except TuningInvalid as exc:
            return Response({"detail": "cannot apply", "errors": exc.errors}, status=400)
        return Response(
            TuningApplySerializer(
                {"strategy": config.strategy, "version": config.version, "changed": changed,
                 "params": config.params, "reason": config.reason}
            ).data
        )  # fmt: skip
