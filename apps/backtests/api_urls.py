"""Backtests API (under /api/v1/)."""

from django.urls import URLPattern, path

from . import api

urlpatterns: list[URLPattern] = [
    path("backtests", api.BacktestListView.as_view(), name="api-backtests"),
    path("backtests/<int:pk>", api.BacktestDetailView.as_view(), name="api-backtest"),
    path("backtests/<int:pk>/cancel", api.BacktestCancelView.as_view(), name="api-backtest-cancel"),
]
