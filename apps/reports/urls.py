"""Reports pages (under /reports/)."""

from django.urls import URLPattern, path

from . import views

app_name = "reports"

urlpatterns: list[URLPattern] = [
    path("", views.reports_page, name="page"),
    path("<int:report_id>/chart.png", views.report_chart, name="chart"),
]
