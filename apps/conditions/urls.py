from django.urls import path

from apps.conditions import views

app_name = "conditions"

urlpatterns = [
    path("", views.condition_list, name="list"),
    path("<int:pk>/", views.condition_detail, name="detail"),
]
