"""REST API of the core app: health and runtime switches (thin views)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.models import RuntimeFlag
from apps.core.openapi import errors
from apps.core.selectors import health_report
from apps.core.services import FlagError, switch_set

_COMPONENT = inline_serializer(
    "HealthComponent",
    {
        "component": serializers.CharField(),
        "label": serializers.CharField(),
        "status": serializers.ChoiceField(["ok", "degraded", "down", "unknown"]),
        "status_label": serializers.CharField(),
        "message": serializers.CharField(allow_blank=True),
        "message_label": serializers.CharField(allow_blank=True),
        "last_seen": serializers.DateTimeField(allow_null=True),
        "last_seen_kst": serializers.CharField(allow_null=True),
        "age_seconds": serializers.FloatField(allow_null=True),
        "data_count": serializers.IntegerField(),
        "expected": serializers.BooleanField(),
        "details": serializers.DictField(required=False),
    },
    many=True,
)
_HEALTH = inline_serializer(
    "Health",
    {
        "ok": serializers.BooleanField(),
        "time": serializers.DateTimeField(),
        "components": _COMPONENT,
        "engine": inline_serializer(
            "EngineHealth",
            {
                "running": serializers.BooleanField(),
                "last_seen": serializers.DateTimeField(allow_null=True, required=False),
                "age_seconds": serializers.FloatField(allow_null=True, required=False),
                "error": serializers.CharField(required=False),
            },
        ),
    },
)


class HealthView(APIView):
    """GET /api/v1/health — each component with status and age; HTTP 503 when an expected one is not ok."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="System health (seed 004 §8.2)",
        description="Every component with status and age, and whether the strategy engine runs "
        "(`engine`, other keys from its heartbeat: strategies, watched, signals, day). 503 (same body) "
        "when an expected component is not ok.",
        responses={
            200: _HEALTH,
            503: OpenApiResponse(_HEALTH, description="an expected component is not ok"),
            **errors(),
        },
    )
    def get(self, request: Request) -> Response:
        report = health_report(probe=True)
        return Response(report, status=status.HTTP_200_OK if report["ok"] else 503)


class RuntimeFlagSerializer(serializers.ModelSerializer):
    updated_by = serializers.CharField(
        source="updated_by.username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = RuntimeFlag
        fields = ["key", "enabled", "description", "updated_at", "updated_by"]
        read_only_fields = ["key", "description", "updated_at", "updated_by"]


class FlagChangeSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class FlagListView(APIView):
    @extend_schema(
        summary="Runtime switches", responses={200: RuntimeFlagSerializer(many=True), **errors()}
    )
    def get(self, request: Request) -> Response:
        return Response(RuntimeFlagSerializer(RuntimeFlag.objects.all(), many=True).data)


class FlagDetailView(APIView):
    """GET or PATCH /api/v1/flags/{key} — PATCH needs the trader role."""

    @extend_schema(
        summary="One runtime switch", responses={200: RuntimeFlagSerializer, **errors(404)}
    )
    def get(self, request: Request, key: str) -> Response:
        flag = RuntimeFlag.objects.filter(key=key).first()
        if flag is None:
            return Response({"detail": f"unknown flag: {key}"}, status=404)
        return Response(RuntimeFlagSerializer(flag).data)

    @extend_schema(
        summary="Flip a runtime switch (trader)",
        description="Journalled; `trading-enabled` goes through the trading gate.",
        request=FlagChangeSerializer,
        responses={200: RuntimeFlagSerializer, **errors(400, 404)},
    )
    def patch(self, request: Request, key: str) -> Response:
        body = FlagChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            flag = switch_set(
                key,
                body.validated_data["enabled"],
                user=request.user,
                reason=body.validated_data["reason"],
            )
        except FlagError as exc:
            return Response({"detail": str(exc)}, status=404)
        return Response(RuntimeFlagSerializer(flag).data)
