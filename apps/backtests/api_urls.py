"""Backtests API (under /api/v1/)."""

from django.urls import URLPattern, path

from . import api, api_chart

urlpatterns: list[URLPattern] = [
    path("backtests", api.BacktestListView.as_view(), name="api-backtests"),
    path("backtests/<int:pk>", api.BacktestDetailView.as_view(), name="api-backtest"),
    path("backtests/<int:pk>/cancel", api.BacktestCancelView.as_view(), name="api-backtest-cancel"),
    path(
        "backtests/<int:pk>/markers/<str:code>",
        api_chart.BacktestMarkersView.as_view(),
        name="api-backtest-markers",
    ),
]
