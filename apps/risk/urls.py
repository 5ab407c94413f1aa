"""Risk pages (under /risk/)."""

from django.urls import URLPattern, path

from . import views

app_name = "risk"

# Risk configuration and state pages.
urlpatterns: list[URLPattern] = [
    path("", views.risk_page, name="page"),
    path("config", views.config_save, name="config-save"),
    path("state/<slug:action>", views.state_change, name="state-change"),
]
