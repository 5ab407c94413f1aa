"""Risk API (under /api/v1/risk/)."""

from django.urls import URLPattern, path

from apps.risk.liquidation_api import EmergencySellView

# Risk configuration and state endpoints.
urlpatterns: list[URLPattern] = []

# Emergency liquidation endpoints.
urlpatterns += [
    path("emergency-sell", EmergencySellView.as_view(), name="api-risk-emergency-sell"),
]
