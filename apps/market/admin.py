"""Admin list pages for the stock master and bars (read-friendly; bars are loaded in bulk)."""

from __future__ import annotations

from django.contrib import admin

from apps.market.calendar import KST
from apps.market.models import DailyBar, Instrument, MinuteBar


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "market",
        "board",
        "listed_shares",
        "is_halted",
        "is_administrative",
        "is_caution",
        "updated_at",
    )
    list_filter = ("market", "is_halted", "is_administrative", "is_caution", "nxt_enabled")
    search_fields = ("code", "name")
    ordering = ("code",)


class _BarAdmin(admin.ModelAdmin):
    list_select_related = ("instrument",)
    raw_id_fields = ("instrument",)
    search_fields = ("instrument__code", "instrument__name")
    # Bar tables hold millions of rows: skip the unfiltered COUNT(*).
    show_full_result_count = False
    list_per_page = 100


@admin.register(DailyBar)
class DailyBarAdmin(_BarAdmin):
    list_display = ("instrument", "date", "open", "high", "low", "close", "volume", "value")
    date_hierarchy = "date"
    ordering = ("-date", "instrument")


@admin.register(MinuteBar)
class MinuteBarAdmin(_BarAdmin):
    list_display = ("instrument", "time_kst", "open", "high", "low", "close", "volume")
    ordering = ("-time", "instrument")

    @admin.display(description="bar end (KST)", ordering="time")
    def time_kst(self, obj: MinuteBar) -> str:
        return obj.time.astimezone(KST).strftime("%Y-%m-%d %H:%M")
