"""Market-data API routes, mounted under /api/v1/market/."""

from django.urls import path

from apps.market import api

app_name = "market"

urlpatterns = [
    path("chart/<str:code>", api.ChartApi.as_view(), name="chart"),
    path("chart/<str:code>/markers", api.ChartMarkersApi.as_view(), name="chart-markers"),
    path("status", api.MarketStatusApi.as_view(), name="status"),
]
