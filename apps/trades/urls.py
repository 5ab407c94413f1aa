from django.urls import path

from apps.trades import views

app_name = "trades"

urlpatterns = [
    path("orders/", views.order_list, name="orders"),
    path("orders/place/", views.order_place, name="order-place"),
    path("orders/<uuid:pk>/", views.order_detail, name="order"),
    path("orders/<uuid:pk>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<uuid:pk>/amend/", views.order_amend, name="order-amend"),
    path("splits/<uuid:pk>/cancel/", views.split_cancel, name="split-cancel"),
    path("positions/", views.position_list, name="positions"),
    path("trades/", views.trade_list, name="trades"),
]
