"""Market-data pages, mounted under /market/."""

from django.urls import path

from apps.market import views

app_name = "market_pages"

urlpatterns = [
    path("bars/", views.bars_page, name="bars"),
]
