from django.contrib import admin

from .models import BacktestRun


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = ["id", "strategy", "date_from", "date_to", "status", "progress", "created_at"]
    list_filter = ["status", "strategy"]
    readonly_fields = ["metrics", "equity"]
