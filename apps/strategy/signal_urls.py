from django.urls import path

from . import signal_views

urlpatterns = [
    path("<int:pk>/", signal_views.signal_detail, name="signal-detail"),
]
