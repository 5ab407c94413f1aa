from django.contrib import admin

from .models import BotCursor, ChatCommand, TelegramLink


@admin.register(ChatCommand)
class ChatCommandAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "chat_id",
        "user",
        "sender",
        "command",
        "args",
        "outcome",
        "reply_sent",
    )
    list_filter = ("outcome", "command")
    search_fields = ("chat_id", "sender", "user__username", "command")
    readonly_fields = [f.name for f in ChatCommand._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TelegramLink)
class TelegramLinkAdmin(admin.ModelAdmin):
    list_display = ("user", "chat_id", "chat_name", "linked_at")
    search_fields = ("user__username", "chat_id", "chat_name")
    readonly_fields = ("user", "chat_id", "chat_name", "linked_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(BotCursor)
class BotCursorAdmin(admin.ModelAdmin):
    list_display = ("bot_id", "last_update_id", "updated_at")
