"""Admin: conditions (the trader's switches are editable; the rest comes from Kiwoom), check records,
memberships and the entry/exit log (read-only: history is never edited by hand)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.conditions.models import Condition, ConditionEvent, ConditionMember, ConditionRun
from apps.core.pagination import CappedPaginator


class ReadOnlyAdmin(admin.ModelAdmin):
    # Checks and events pile up: count no further than LIST_COUNT_CAP, skip the unfiltered total.
    paginator = CappedPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Condition)
class ConditionAdmin(admin.ModelAdmin):
    list_display = [
        "seq",
        "name",
        "account",
        "active",
        "realtime",
        "notify_entry",
        "notify_exit",
        "listed",
        "member_count",
        "last_checked_at",
    ]
    list_filter = ["active", "realtime", "listed"]
    search_fields = ["seq", "name"]
    readonly_fields = [
        "account",
        "seq",
        "name",
        "listed",
        "member_count",
        "baseline_at",
        "last_checked_at",
        "last_error",
        "synced_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # conditions are made in the HTS and synced from CNSRLST


@admin.register(ConditionRun)
class ConditionRunAdmin(ReadOnlyAdmin):
    list_display = [
        "condition",
        "source",
        "started_at",
        "member_count",
        "entries",
        "exits",
        "error",
    ]
    list_filter = ["source", "baseline", "condition"]
    date_hierarchy = "started_at"


@admin.register(ConditionMember)
class ConditionMemberAdmin(ReadOnlyAdmin):
    list_display = ["condition", "code", "name", "is_member", "price", "change_rate", "entered_at"]
    list_filter = ["is_member", "condition"]
    search_fields = ["code", "name"]


@admin.register(ConditionEvent)
class ConditionEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "condition", "kind", "code", "name", "price", "change_rate", "source"]
    list_filter = ["kind", "source", "condition"]
    search_fields = ["code", "name"]
    date_hierarchy = "at"
