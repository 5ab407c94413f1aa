"""Risk API (under /api/v1/risk/)."""

from django.urls import URLPattern, path

from apps.risk.liquidation_api import EmergencySellView

from . import api

# Risk configuration and state endpoints.
urlpatterns: list[URLPattern] = [
    path("config", api.RiskConfigView.as_view(), name="api-risk-config"),
    path("config/history", api.RiskConfigHistoryView.as_view(), name="api-risk-config-history"),
    path("state", api.RiskStateView.as_view(), name="api-risk-state"),
    path("halt", api.RiskStateActionView.as_view(action="halt"), name="api-risk-halt"),
    path("reduce", api.RiskStateActionView.as_view(action="reduce"), name="api-risk-reduce"),
    path("resume", api.RiskStateActionView.as_view(action="resume"), name="api-risk-resume"),
]

# Emergency liquidation endpoints.
urlpatterns += [
    path("emergency-sell", EmergencySellView.as_view(), name="api-risk-emergency-sell"),
]
