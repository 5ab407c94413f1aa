"""Risk API (under /api/v1/risk/)."""

from django.urls import URLPattern

# Risk configuration and state endpoints.
urlpatterns: list[URLPattern] = []

# Emergency liquidation endpoints.
urlpatterns += []
