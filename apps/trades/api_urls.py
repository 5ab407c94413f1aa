from django.urls import path

from apps.trades import api

urlpatterns = [
    path("trades", api.TradeListView.as_view(), name="api-trades"),
    path("trades/<uuid:pk>", api.TradeDetailView.as_view(), name="api-trade"),
    path("orders", api.OrderListView.as_view(), name="api-orders"),
    path("orders/<uuid:pk>", api.OrderDetailView.as_view(), name="api-order"),
    path("orders/<uuid:pk>/cancel", api.OrderCancelView.as_view(), name="api-order-cancel"),
    path("orders/<uuid:pk>/amend", api.OrderAmendView.as_view(), name="api-order-amend"),
    path("fills", api.FillListView.as_view(), name="api-fills"),
    path("splits", api.SplitListView.as_view(), name="api-splits"),
    path("splits/<uuid:pk>", api.SplitDetailView.as_view(), name="api-split"),
    path("splits/<uuid:pk>/cancel", api.SplitCancelView.as_view(), name="api-split-cancel"),
]
