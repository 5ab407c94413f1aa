"""Backtest pages (under /backtests/)."""

from django.urls import URLPattern, path

from . import views

app_name = "backtests"

urlpatterns: list[URLPattern] = [
    path("", views.backtests_page, name="page"),
    path("compare/", views.backtest_compare, name="compare"),
    path("<int:pk>/", views.backtest_detail, name="detail"),
    path("<int:pk>/cancel", views.backtest_cancel_view, name="cancel"),
    path("<int:pk>/chart/<str:code>/", views.backtest_chart, name="chart"),
]
