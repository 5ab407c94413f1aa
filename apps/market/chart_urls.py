"""The per-stock chart page, mounted under /chart/."""

from django.urls import path

from apps.market import views

app_name = "chart"

urlpatterns = [
    path("<str:code>/", views.chart_page, name="page"),
]
