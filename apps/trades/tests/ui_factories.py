"""factory-boy factories for the page and API tests (fills and trades; orders and positions come from
`factories.py`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.conf import settings

from apps.trades.models import Fill, Trade
from apps.trades.tests.factories import OrderFactory
from krx import KST


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    order = factory.SubFactory(OrderFactory, status="filled", filled_quantity=10)
    cum_quantity = 10
    quantity = 10
    price = Decimal("70000")
    amount = 700_000
    cum_amount = 700_000
    execution_no = factory.Sequence(lambda n: f"E{n:06d}")
    source = "realtime"
    commission = 105
    executed_at = factory.LazyFunction(lambda: dt.datetime(2025, 2, 4, 10, 0, tzinfo=KST))


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trade

    account_no = factory.LazyFunction(lambda: settings.KIWOOM_ACCOUNT)
    date = dt.date(2025, 2, 4)
    code = "005930"
    name = "삼성전자"
    entry_time = factory.LazyAttribute(
        lambda o: dt.datetime.combine(o.date, dt.time(9, 5), tzinfo=KST)
    )
    exit_time = factory.LazyAttribute(
        lambda o: dt.datetime.combine(o.date, dt.time(14, 0), tzinfo=KST)
    )
    entry_price = Decimal("70000")
    exit_price = Decimal("71000")
    quantity = 10
    entry_amount = 700_000
    exit_amount = 710_000
    pnl = 8_000
    pnl_pct = Decimal("1.1429")
    commission = 210
    tax = 1_420
    strategy_tag = "volume_leader"
