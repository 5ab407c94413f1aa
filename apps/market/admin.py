"""Admin list page for the stock master.

The bar tables have composite primary keys (code + time/date), which Django's admin refuses to
register; bars are browsed read-only on the market app's own page, /market/bars/ (views.py).
"""

from __future__ import annotations

from django.contrib import admin

from apps.market.models import Instrument


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
