"""Admin for news items: read-only lists (items arrive through the services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import NewsItem


@admin.register(NewsItem)
class NewsItemAdmin(admin.ModelAdmin):
    list_display = ("published_at", "code", "score", "headline", "source", "origin", "received_at")
    list_filter = ("origin", "source")
    search_fields = ("code", "headline")
    date_hierarchy = "published_at"
    readonly_fields = [f.name for f in NewsItem._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
