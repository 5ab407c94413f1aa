"""REST API of the risk engine (seed 004 §8.2) and of the trading gate's system switch (thin views).

Reads are open to any logged-in user; writes need the trader role (`IsTraderOrReadOnly`: viewers get
403 and nothing changes). A bad configuration is a 400 naming each field, and writes nothing.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import ErrorsSerializer, errors

from .openapi import (
    RiskConfigChangeSerializer,
    RiskConfigSerializer,
    RiskStateSerializer,
    SystemSwitchSerializer,
)
from .present import config_dict, state_dict
from .selectors import config_history
from .services import gate
from .services.config import ConfigInvalid, config_update


def _account() -> str:
    from apps.accounts.selectors import active_account_no

    return active_account_no()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class RiskConfigView(APIView):
    """GET /api/v1/risk/config — the active version; PUT — a new version (fields left out keep their
    values; `reason` required)."""

    @extend_schema(
        summary="Risk configuration (seed 004 §8.2)",
        responses={200: RiskConfigSerializer, **errors()},
    )
    def get(self, request: Request) -> Response:
        return Response(config_dict())

    @extend_schema(
        summary="New risk configuration version (trader, seed 004 §8.2)",
        description="Fields left out keep the active values; a bad value → 400 naming each field, "
        "nothing written.",
        request=RiskConfigChangeSerializer,
        examples=[
            OpenApiExample(
                "tighter stop",
                {"stop_loss_pct": "-4.00", "max_positions": 3, "reason": "volatile week"},
                request_only=True,
            )
        ],
        responses={200: RiskConfigSerializer, **errors(_400=ErrorsSerializer)},
    )
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            return Response({"detail": "a JSON object is expected"}, status=400)
        try:
            row, warnings = config_update(request.data, user=request.user)
        except ConfigInvalid as exc:
            return Response(
                {"detail": "invalid risk configuration", "errors": exc.errors}, status=400
            )
        body = config_dict(row)
        body["warnings"] = warnings
        return Response(body)


class RiskConfigHistoryView(APIView):
    """GET /api/v1/risk/config/history — every version, newest first (at most 200)."""

    @extend_schema(
        summary="Risk configuration versions",
        responses={200: RiskConfigSerializer(many=True), **errors()},
    )
    def get(self, request: Request) -> Response:
        return Response([config_dict(row) for row in config_history(200)])


class RiskStateView(APIView):
    """GET /api/v1/risk/state — the state and today's figures of the active account."""

    @extend_schema(
        summary="Risk state and today's figures", responses={200: RiskStateSerializer, **errors()}
    )
    def get(self, request: Request) -> Response:
        return Response(state_dict(_account()))


class RiskStateActionView(APIView):
    """POST /api/v1/risk/halt|reduce|resume {"reason"} — a trader moves the risk state."""

    action = ""

    @extend_schema(
        summary="Move the risk state (trader)",
        request=ReasonSerializer,
        responses={200: RiskStateSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fn = {"halt": gate.halt, "reduce": gate.reduce, "resume": gate.resume}[self.action]
        fn(user=request.user, reason=body.validated_data["reason"] or f"API {self.action}")
        return Response(state_dict(_account()), status=status.HTTP_200_OK)


class SystemSwitchView(APIView):
    """POST /api/v1/system/start|stop {"reason"} (seed 004 §8.2) — the trader's switch of automatic
    trading, through the trading gate. Starting needs a reason; it does not resume a HALTED state."""

    on = False

    @extend_schema(
        summary="Automatic trading on/off (trader, seed 004 §8.2)",
        description="The trader's switch, through the trading gate; start needs a reason and does "
        "not resume a HALTED state.",
        request=ReasonSerializer,
        responses={
            200: SystemSwitchSerializer,
            **errors(_400=OpenApiResponse(ErrorsSerializer, description="no reason to start")),
        },
        examples=[OpenApiExample("start", {"reason": "morning session"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"]
        if self.on and not reason:
            return Response(
                {"detail": "a reason is required to start", "errors": {"reason": ["required"]}},
                status=400,
            )
        changed = gate.switch_set(self.on, user=request.user, reason=reason or "API stop")
        return Response({**gate.gate_status(), "changed": changed})
