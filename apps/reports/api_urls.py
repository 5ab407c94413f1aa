"""Reports API (under /api/v1/reports/)."""

from django.urls import URLPattern, path

from . import api

urlpatterns: list[URLPattern] = [
    path("daily", api.DailyReportsView.as_view(), name="api-reports-daily"),
    path("metrics", api.MetricsView.as_view(), name="api-reports-metrics"),
]
