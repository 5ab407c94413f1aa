"""REST API of the notifications app (thin): a user's own channels (secrets write-only) and delivery log.

Notification settings are personal, so any logged-in user (viewer or trader) manages their own channels;
no endpoint shows or changes another user's.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from apps.core.openapi import errors, query
from apps.core.security import NotifyTestThrottle
from apps.notifications.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    NotificationChannel,
    NotificationKind,
)
from apps.notifications.selectors import channels_for_user, deliveries_for_user
from apps.notifications.services import (
    channel_create,
    channel_delete,
    channel_send_test,
    channel_update,
)


class ChannelSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=True
    )
    has_secret = serializers.SerializerMethodField()
    event_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=NotificationKind.choices), required=False
    )

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "kind",
            "name",
            "target",
            "secret",
            "has_secret",
            "enabled",
            "event_kinds",
            "quiet_start",
            "quiet_end",
            "min_interval_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_secret", "created_at", "updated_at"]

    def get_has_secret(self, channel: NotificationChannel) -> bool:
        return bool(channel.secret)


class DeliverySerializer(serializers.ModelSerializer):
    channel_kind = serializers.CharField(source="channel.kind", read_only=True)
    channel_name = serializers.CharField(source="channel.name", read_only=True)
    kind = serializers.CharField(read_only=True)
    title = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "channel_kind",
            "channel_name",
            "kind",
            "title",
            "is_digest",
            "digest",
            "status",
            "hold_reason",
            "attempts",
            "last_error",
            "created_at",
            "send_after",
            "sent_at",
            "updated_at",
        ]

    def get_title(self, delivery: Delivery) -> str:
        if delivery.notification_id:
            return delivery.notification.title
        count = getattr(delivery, "member_count", None)
        return f"알림 요약 ({delivery.members.count() if count is None else count}건)"


def _save(call, *args, **kwargs) -> NotificationChannel:
    try:
        return call(*args, **kwargs)
    except DjangoValidationError as exc:
        raise ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        ) from None


@extend_schema_view(
    get=extend_schema(
        summary="My notification channels",
        responses={200: ChannelSerializer(many=True), **errors(400)},
    ),
    post=extend_schema(
        summary="Add a notification channel",
        request=ChannelSerializer,
        examples=[
            OpenApiExample(
                "console",
                {"kind": "console", "name": "log", "event_kinds": ["order.fill", "risk.halt"]},
                request_only=True,
            ),
            OpenApiExample(
                "email, quiet at night",
                {
                    "kind": "email",
                    "name": "me",
                    "target": "trader@example.com",
                    "quiet_start": "22:00",
                    "quiet_end": "07:00",
                },
                request_only=True,
            ),
        ],
        responses={201: ChannelSerializer, **errors(400)},
    ),
)
class ChannelListView(ListAPIView):
    """GET (paged) / POST /api/v1/notifications/channels — the caller's own channels."""

    permission_classes = [IsAuthenticated]
    serializer_class = ChannelSerializer

    def get_queryset(self):
        return channels_for_user(self.request.user)

    def post(self, request: Request) -> Response:
        body = ChannelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = _save(channel_create, request.user, **body.validated_data)
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelDetailView(APIView):
    """GET / PATCH / DELETE /api/v1/notifications/channels/{id} — 404 for anyone else's channel."""

    permission_classes = [IsAuthenticated]

    def _channel(self, request: Request, pk: int) -> NotificationChannel:
        return get_object_or_404(channels_for_user(request.user), pk=pk)

    @extend_schema(summary="One of my channels", responses={200: ChannelSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ChannelSerializer(self._channel(request, pk)).data)

    @extend_schema(
        summary="Change one of my channels",
        request=ChannelSerializer,
        responses={200: ChannelSerializer, **errors(400, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        channel = self._channel(request, pk)
        body = ChannelSerializer(channel, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        channel = _save(channel_update, channel, **body.validated_data)
        return Response(ChannelSerializer(channel).data)

    @extend_schema(summary="Delete one of my channels", responses={204: None, **errors(404)})
    def delete(self, request: Request, pk: int) -> Response:
        channel_delete(self._channel(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestView(APIView):
    """POST /api/v1/notifications/channels/{id}/test — queue a test message to this channel."""

    permission_classes = [IsAuthenticated]
    # Per user: a flood of test sends to a slow endpoint once held every worker slot.
    throttle_classes = [NotifyTestThrottle, UserRateThrottle]

    @extend_schema(
        summary="Send a test message",
        description="Queued; at most NOTIFY_TEST_THROTTLE per user (then 429).",
        request=None,
        responses={
            202: inline_serializer("ChannelTest", {"delivery": serializers.IntegerField()}),
            **errors(404),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        channel = get_object_or_404(channels_for_user(request.user), pk=pk)
        delivery = channel_send_test(channel)
        return Response({"delivery": delivery.pk}, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    get=extend_schema(
        summary="My delivery log, newest first",
        parameters=[
            query("status", "a delivery status", enum=list(DeliveryStatus.values)),
            query(
                "kind", "a notification kind or digest", enum=[*NotificationKind.values, "digest"]
            ),
        ],
        responses={200: DeliverySerializer(many=True), **errors(400)},
    )
)
class DeliveryListView(ListAPIView):
    """GET /api/v1/notifications/deliveries?status=&kind= — the caller's delivery log, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = DeliverySerializer

    def get_queryset(self):
        params = self.request.query_params
        status_ = params.get("status") or None
        kind = params.get("kind") or None
        if status_ and status_ not in DeliveryStatus.values:
            raise ValidationError({"status": f"알 수 없는 상태입니다: {status_}"})
        if kind and kind not in [*NotificationKind.values, "digest"]:
            raise ValidationError({"kind": f"알 수 없는 알림 종류입니다: {kind}"})
        return deliveries_for_user(self.request.user, status=status_, kind=kind)
