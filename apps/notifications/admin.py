"""Admin: channels (secret write-only, never in the list), notifications and the delivery log (read-only)."""

from __future__ import annotations

from django.contrib import admin

from apps.notifications.forms import ChannelForm
from apps.notifications.models import Delivery, Notification, NotificationChannel


class AdminChannelForm(ChannelForm):
    class Meta(ChannelForm.Meta):
        fields = ["user", *ChannelForm.Meta.fields]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = AdminChannelForm
    list_display = ["id", "user", "kind", "name", "enabled", "quiet_start", "quiet_end"]
    list_filter = ["kind", "enabled"]
    search_fields = ["user__username", "name"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "title", "created_at"]
    list_filter = ["kind"]
    search_fields = ["title", "dedup_key"]
    readonly_fields = ["kind", "title", "body", "data", "dedup_key", "created_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "channel_kind",
        "notification",
        "is_digest",
        "status",
        "hold_reason",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "is_digest", "channel__kind"]
    list_select_related = ["channel", "notification"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    @admin.display(description="channel")
    def channel_kind(self, delivery: Delivery) -> str:
        return f"{delivery.channel.kind} #{delivery.channel_id}"

    def has_add_permission(self, request) -> bool:
        return False
