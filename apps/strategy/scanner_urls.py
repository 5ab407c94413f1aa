"""Scanner page (under /scanner/)."""

from django.urls import URLPattern, path

from . import scanner_views

app_name = "scanner"

urlpatterns: list[URLPattern] = [
    path("", scanner_views.scanner_page, name="page"),
]
