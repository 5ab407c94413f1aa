from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("account/balance", api.BalanceView.as_view(), name="api-account-balance"),
    path("account/balance/sync", api.BalanceSyncView.as_view(), name="api-account-balance-sync"),
    path("account/positions", api.PositionsView.as_view(), name="api-account-positions"),
    path("accounts", api.AccountListView.as_view(), name="api-accounts"),
    path("accounts/<int:pk>", api.AccountDetailView.as_view(), name="api-account"),
    path(
        "accounts/<int:pk>/activate", api.AccountActivateView.as_view(), name="api-account-activate"
    ),
]
