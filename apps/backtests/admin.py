from django.contrib import admin

from .models import BacktestRun, TuningRun


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = ["id", "strategy", "date_from", "date_to", "status", "progress", "created_at"]
    list_filter = ["status", "strategy"]
    readonly_fields = ["metrics", "equity"]


@admin.register(TuningRun)
class TuningRunAdmin(admin.ModelAdmin):
    list_display = ["id", "strategy", "method", "objective", "trials_total", "status", "created_at"]
    list_filter = ["status", "strategy", "method"]
    readonly_fields = ["ranges", "windows", "result", "best_params", "applied_version"]
