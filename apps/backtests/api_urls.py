"""Backtests and tuning API (under /api/v1/)."""

from django.urls import URLPattern, path

from . import api, api_chart, tuning_api

urlpatterns: list[URLPattern] = [
    path("backtests", api.BacktestListView.as_view(), name="api-backtests"),
    path("backtests/<int:pk>", api.BacktestDetailView.as_view(), name="api-backtest"),
    path("backtests/<int:pk>/cancel", api.BacktestCancelView.as_view(), name="api-backtest-cancel"),
    path(
        "backtests/<int:pk>/markers/<str:code>",
        api_chart.BacktestMarkersView.as_view(),
        name="api-backtest-markers",
    ),
    path("tuning", tuning_api.TuningListView.as_view(), name="api-tuning-runs"),
    path("tuning/<int:pk>", tuning_api.TuningDetailView.as_view(), name="api-tuning"),
    path("tuning/<int:pk>/cancel", tuning_api.TuningCancelView.as_view(), name="api-tuning-cancel"),
    path("tuning/<int:pk>/apply", tuning_api.TuningApplyView.as_view(), name="api-tuning-apply"),
]
