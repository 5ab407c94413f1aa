from django.contrib import admin

from apps.reports.models import LearningMetrics, Report


@admin.register(LearningMetrics)
class LearningMetricsAdmin(admin.ModelAdmin):
    list_display = ["date", "account_no", "total_trades", "win_rate", "avg_return", "total_pnl"]
    list_filter = ["account_no"]
    date_hierarchy = "date"


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["period_end", "kind", "account_no", "title", "created_at"]
    list_filter = ["kind", "account_no"]
    exclude = ["chart_png"]
