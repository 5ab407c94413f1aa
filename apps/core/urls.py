from django.urls import path

from apps.core import api

urlpatterns = [
    path("health", api.HealthView.as_view(), name="api-health"),
    path("flags", api.FlagListView.as_view(), name="api-flags"),
    path("flags/<slug:key>", api.FlagDetailView.as_view(), name="api-flag"),
]
