"""The trading gate's system switch (under /api/v1/system/, seed 004 §8.2)."""

from django.urls import path

from . import api

urlpatterns = [
    path("start", api.SystemSwitchView.as_view(on=True), name="api-system-start"),
    path("stop", api.SystemSwitchView.as_view(on=False), name="api-system-stop"),
]
