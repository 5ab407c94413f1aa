"""Admin: broker accounts (keys write-only, never in a list or a form's initial value) and the balance
snapshots (read-only: they are the broker's numbers)."""

from __future__ import annotations

from django.contrib import admin

from apps.accounts import services
from apps.accounts.forms import AccountForm
from apps.accounts.models import BalanceSnapshot, BrokerAccount, HoldingSnapshot


@admin.register(BrokerAccount)
class BrokerAccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ["account_no", "label", "mode", "app_key_masked", "is_active", "updated_at"]
    readonly_fields = ["is_active", "app_key_masked", "updated_at", "updated_by"]

    def save_model(self, request, obj, form, change) -> None:
        services.account_save(obj, user=request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Snapshots and (later) orders hang on an account; deleting the active one would orphan trading.
        return obj is not None and not obj.is_active and super().has_delete_permission(request, obj)


class HoldingInline(admin.TabularInline):
    model = HoldingSnapshot
    extra = 0
    can_delete = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "taken_at",
        "account",
        "source",
        "cash",
        "d2_cash",
        "total_evaluation",
        "day_profit_loss",
    ]
    list_filter = ["source", "account"]
    inlines = [HoldingInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
