"""Read-only admin for the books: orders, fills, positions and trades change only through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.pagination import CappedPaginator

from .models import (
    Fill,
    Order,
    OrderTransition,
    Position,
    ReconciliationRun,
    SplitOrder,
    Trade,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    # A million orders: count no further than LIST_COUNT_CAP and skip the unfiltered total (issue 17).
    paginator = CappedPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransitionInline(admin.TabularInline):
    model = OrderTransition
    extra = 0
    can_delete = False
    readonly_fields = ("at", "from_status", "to_status", "cause", "message")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = (
        "cum_quantity",
        "quantity",
        "price",
        "amount",
        "execution_no",
        "source",
        "commission",
        "tax",
        "executed_at",
    )
    exclude = ("cum_amount",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "account_no",
        "code",
        "side",
        "order_type",
        "quantity",
        "price",
        "filled_quantity",
        "status",
        "broker_order_no",
        "cause",
        "strategy_tag",
    )
    list_filter = ("status", "side", "cause", "kind")
    search_fields = ("code", "broker_order_no", "id", "idempotency_key")
    inlines = [TransitionInline, FillInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = (
        "executed_at",
        "order",
        "quantity",
        "price",
        "amount",
        "source",
        "commission",
        "tax",
    )
    list_filter = ("source",)
    list_select_related = ("order",)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = (
        "account_no",
        "code",
        "name",
        "quantity",
        "reserved",
        "avg_price",
        "realized_pnl",
        "stop_price",
        "entry_time",
        "strategy_tag",
    )
    search_fields = ("code", "name")


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "code",
        "quantity",
        "entry_price",
        "exit_price",
        "pnl",
        "pnl_pct",
        "commission",
        "tax",
        "strategy_tag",
    )
    list_filter = ("strategy_tag", "date")
    search_fields = ("code", "name")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "trigger",
        "ok",
        "resolved_orders",
        "inserted_fills",
        "gate_closed",
    )
    list_filter = ("ok", "trigger")


@admin.register(SplitOrder)
class SplitOrderAdmin(ReadOnlyAdmin):
    """Split parents: their schedule moves only through `services.split` (cancel on the orders page)."""

    list_display = (
        "created_at",
        "account_no",
        "code",
        "side",
        "mode",
        "quantity",
        "parts",
        "children_sent",
        "filled_quantity",
        "slippage",
        "status",
    )
    list_filter = ("status", "mode", "side")
    search_fields = ("code", "id")
