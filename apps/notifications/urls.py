from django.urls import path

from apps.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("channels/<int:pk>/", views.channel_edit, name="channel-edit"),
    path("channels/<int:pk>/delete", views.channel_remove, name="channel-delete"),
    path("channels/<int:pk>/test", views.channel_test, name="channel-test"),
]
