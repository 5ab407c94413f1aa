"""REST API of the core app: health and runtime switches (thin views)."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.models import RuntimeFlag
from apps.core.selectors import health_report
from apps.core.services import FlagError, switch_set


class HealthView(APIView):
    """GET /api/v1/health — each component with status and age; HTTP 503 when an expected one is not ok."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        report = health_report(probe=True)
        return Response(report, status=status.HTTP_200_OK if report["ok"] else 503)


class RuntimeFlagSerializer(serializers.ModelSerializer):
    updated_by = serializers.CharField(source="updated_by.username", default=None, read_only=True)

    class Meta:
        model = RuntimeFlag
        fields = ["key", "enabled", "description", "updated_at", "updated_by"]
        read_only_fields = ["key", "description", "updated_at", "updated_by"]


class FlagChangeSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class FlagListView(APIView):
    def get(self, request: Request) -> Response:
        return Response(RuntimeFlagSerializer(RuntimeFlag.objects.all(), many=True).data)


class FlagDetailView(APIView):
    """GET or PATCH /api/v1/flags/{key} — PATCH needs the trader role."""

    def get(self, request: Request, key: str) -> Response:
        flag = RuntimeFlag.objects.filter(key=key).first()
        if flag is None:
            return Response({"detail": f"unknown flag: {key}"}, status=404)
        return Response(RuntimeFlagSerializer(flag).data)

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
