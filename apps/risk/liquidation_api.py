"""The emergency liquidation endpoint (under /api/v1/risk/): thin, the service does the work.

`POST /api/v1/risk/emergency-sell` `{"reason": "…"}` + `Idempotency-Key` (trader; a viewer gets 403):
202 with the run (the `orders` queue cancels and sells); the same key again, a double click or a
concurrent request while a run is active → 200 with that same run, nothing sent twice.
`GET /api/v1/risk/emergency-sell` (any user): the running liquidation, else the last one (404: none yet).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import errors, idempotency_key
from apps.risk.openapi import LiquidationRunSerializer
from apps.risk.services.liquidation import liquidation_current, liquidation_request

MAX_KEY_LENGTH = 100


class EmergencySellSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class EmergencySellView(APIView):
    @extend_schema(
        summary="The running (else the last) emergency liquidation",
        responses={200: LiquidationRunSerializer, **errors(404)},
    )
    def get(self, request: Request) -> Response:
        run = liquidation_current()
        if run is None:
            return Response({"detail": "비상 청산 기록이 없습니다"}, status=404)
        return Response(run.as_dict())

    @extend_schema(
        summary="Emergency liquidation (trader, seed 004 §8.2)",
        description="202 with the new run (the orders queue cancels and sells; progress on /ws/live "
        "as `liquidation_progress`); while a run is active, or with a key used before, 200 with "
        "that run and nothing new.",
        parameters=[idempotency_key(required=False)],
        request=EmergencySellSerializer,
        responses={
            202: LiquidationRunSerializer,
            200: OpenApiResponse(LiquidationRunSerializer, description="the run already active"),
            **errors(400),
        },
    )
    def post(self, request: Request) -> Response:
        data = EmergencySellSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if len(key) > MAX_KEY_LENGTH:
            return Response(
                {"detail": "Idempotency-Key는 최대 100자입니다", "code": "idempotency"}, status=400
            )
        run, created = liquidation_request(
            request.user,
            data.validated_data["reason"],
            f"api:{request.user.pk}:{key}" if key else None,
        )
        return Response(run.as_dict(), status=202 if created else 200)
