from django.contrib import admin

from apps.core.models import RuntimeFlag, RuntimeFlagEvent, SystemStatus


@admin.register(SystemStatus)
class SystemStatusAdmin(admin.ModelAdmin):
    list_display = ["component", "status", "last_seen", "data_count", "message"]
    readonly_fields = ["component", "status", "message", "last_seen", "data_count", "details"]


class RuntimeFlagEventInline(admin.TabularInline):
    model = RuntimeFlagEvent
    extra = 0
    can_delete = False
    readonly_fields = ["enabled", "changed_by", "reason", "created_at"]


@admin.register(RuntimeFlag)
class RuntimeFlagAdmin(admin.ModelAdmin):
    list_display = ["key", "enabled", "updated_at", "updated_by"]
    readonly_fields = ["key", "enabled", "updated_at", "updated_by"]
    inlines = [RuntimeFlagEventInline]
