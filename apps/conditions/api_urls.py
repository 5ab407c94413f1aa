from django.urls import path

from apps.conditions import api

urlpatterns = [
    path("conditions", api.ConditionListView.as_view(), name="api-conditions"),
    path("conditions/sync", api.ConditionSyncView.as_view(), name="api-conditions-sync"),
    path("conditions/events", api.EventListView.as_view(), name="api-conditions-events"),
    path("conditions/<int:pk>", api.ConditionDetailView.as_view(), name="api-condition"),
    path(
        "conditions/<int:pk>/search",
        api.ConditionSearchView.as_view(),
        name="api-condition-search",
    ),
    path(
        "conditions/<int:pk>/results",
        api.ConditionResultsView.as_view(),
        name="api-condition-results",
    ),
    path(
        "conditions/<int:pk>/events",
        api.ConditionEventListView.as_view(),
        name="api-condition-events",
    ),
]
