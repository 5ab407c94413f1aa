"""Admin of the risk engine: configuration versions and the state journal, read-only (a change is a new
version with a reason, made on the risk page or through the API, never an edit of history)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import RiskConfig, RiskDay, RiskStateEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(RiskConfig)
class RiskConfigAdmin(ReadOnlyAdmin):
    list_display = [
        "version",
        "created_at",
        "author",
        "reason",
        "stop_loss_pct",
        "weight_pct",
        "max_positions",
        "max_daily_loss_krw",
        "max_daily_loss_pct",
    ]
    ordering = ["-version"]


@admin.register(RiskStateEvent)
class RiskStateEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "from_state", "to_state", "cause", "author", "reason"]
    list_filter = ["to_state", "cause"]


@admin.register(RiskDay)
class RiskDayAdmin(ReadOnlyAdmin):
    list_display = ["date", "account_no", "opening_equity", "opening_unrealized", "source"]
