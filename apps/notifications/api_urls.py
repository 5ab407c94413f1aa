from django.urls import path

from apps.notifications import api

urlpatterns = [
    path("deliveries", api.DeliveryListView.as_view(), name="api-notification-deliveries"),
    path("channels", api.ChannelListView.as_view(), name="api-notification-channels"),
    path("channels/<int:pk>", api.ChannelDetailView.as_view(), name="api-notification-channel"),
    path(
        "channels/<int:pk>/test",
        api.ChannelTestView.as_view(),
        name="api-notification-channel-test",
    ),
]
