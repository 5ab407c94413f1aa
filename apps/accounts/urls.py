from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("<int:pk>/edit/", views.account_edit, name="edit"),
    path("<int:pk>/activate/", views.account_activate, name="activate"),
    path("balance/sync/", views.balance_sync, name="balance-sync"),
]
