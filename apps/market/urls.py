"""Market-data API routes, mounted under /api/v1/market/."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
