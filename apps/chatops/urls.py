from django.urls import path

from . import views

app_name = "chatops"

urlpatterns = [
    path("", views.telegram_page, name="telegram"),
    path("links/<int:pk>/delete", views.unlink, name="unlink"),
]
