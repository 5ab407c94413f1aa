"""Strategy pages (under /strategy/)."""

from django.urls import URLPattern, path

from . import views

app_name = "strategy"

urlpatterns: list[URLPattern] = [
    path("", views.strategy_page, name="page"),
    path("<slug:name>/config", views.config_save, name="config-save"),
    path("<slug:name>/toggle", views.toggle, name="toggle"),
]
