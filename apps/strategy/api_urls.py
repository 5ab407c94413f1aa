"""Strategy API (under /api/v1/strategy/)."""

from django.urls import URLPattern, path

from . import api

urlpatterns: list[URLPattern] = [
    path("config", api.StrategyConfigView.as_view(), name="api-strategy-config"),
    path(
        "config/history",
        api.StrategyConfigHistoryView.as_view(),
        name="api-strategy-config-history",
    ),
    path("toggle", api.StrategyToggleView.as_view(), name="api-strategy-toggle"),
]
