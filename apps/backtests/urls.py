"""Backtest and tuning pages (under /backtests/)."""

from django.urls import URLPattern, path

from . import tuning_views, views

app_name = "backtests"

urlpatterns: list[URLPattern] = [
    path("", views.backtests_page, name="page"),
    path("compare/", views.backtest_compare, name="compare"),
    path("<int:pk>/", views.backtest_detail, name="detail"),
    path("<int:pk>/cancel", views.backtest_cancel_view, name="cancel"),
    path("<int:pk>/chart/<str:code>/", views.backtest_chart, name="chart"),
    path("tuning/", tuning_views.tuning_page, name="tuning"),
    path("tuning/<int:pk>/", tuning_views.tuning_detail, name="tuning-detail"),
    path("tuning/<int:pk>/cancel", tuning_views.tuning_cancel_view, name="tuning-cancel"),
    path("tuning/<int:pk>/apply", tuning_views.tuning_apply_view, name="tuning-apply"),
]
