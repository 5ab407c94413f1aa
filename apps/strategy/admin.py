"""Admin of the strategy app: scanner runs and strategy configuration versions, read-only (a
configuration change is a new version with a reason, made on the strategy page or through the API, never
an edit of history)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import StrategyConfig
from .scanner_models import ScanRow, ScanSnapshot

# ------------------------------------------------------------------------------ opening scanner


class ScanRowInline(admin.TabularInline):
    model = ScanRow
    extra = 0
    can_delete = False
    fields = [
        "rank",
        "code",
        "name",
        "price",
        "change_pct",
        "value_krw",
        "value_estimated",
        "volume_ratio",
        "news_score",
        "value_rank",
        "surge_rank",
        "gain_rank",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ScanSnapshot)
class ScanSnapshotAdmin(admin.ModelAdmin):
    """Scanner runs are history: read-only."""

    list_display = ["at", "day", "slot", "trigger", "row_count", "news", "duration_ms", "error"]
    list_filter = ["day", "trigger", "news"]
    date_hierarchy = "at"
    inlines = [ScanRowInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# ------------------------------------------------------------------------------ strategy configuration


@admin.register(StrategyConfig)
class StrategyConfigAdmin(admin.ModelAdmin):
    list_display = [
        "strategy",
        "version",
        "enabled",
        "budget_krw",
        "created_at",
        "author",
        "reason",
    ]
    list_filter = ["strategy", "enabled"]
    ordering = ["strategy", "-version"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
