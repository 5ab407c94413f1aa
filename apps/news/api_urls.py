from django.urls import path

from apps.news import api

urlpatterns = [
    path("news", api.NewsView.as_view(), name="api-news"),
]
