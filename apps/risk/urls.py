"""Risk pages (under /risk/)."""

from django.urls import URLPattern

app_name = "risk"

# Risk configuration and state pages.
urlpatterns: list[URLPattern] = []
