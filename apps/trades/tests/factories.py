"""factory-boy factories of the trades app."""

from __future__ import annotations

import factory
from django.conf import settings

from apps.trades.models import Order, OrderStatus, Position


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account_no = factory.LazyFunction(lambda: settings.KIWOOM_ACCOUNT)
    code = "005930"
    name = "삼성전자"
    side = "buy"
    order_type = "limit"
    quantity = 10
    price = 70_000
    status = OrderStatus.ACCEPTED
    broker_order_no = factory.Sequence(lambda n: f"{n + 1:07d}")


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    account_no = factory.LazyFunction(lambda: settings.KIWOOM_ACCOUNT)
    code = "005930"
    name = "삼성전자"
    quantity = 10
    cost_amount = factory.LazyAttribute(lambda o: o.quantity * 70_000)
    avg_price = 70_000
