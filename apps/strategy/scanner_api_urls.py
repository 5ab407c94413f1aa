"""Scanner API (under /api/v1/scanner/)."""

from django.urls import URLPattern, path

from . import scanner_api

urlpatterns: list[URLPattern] = [
    path("top", scanner_api.ScannerTopView.as_view(), name="api-scanner-top"),
]
