"""factory-boy factories of the accounts app."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.accounts.models import BalanceSnapshot, BrokerAccount, HoldingSnapshot, Mode


class BrokerAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerAccount

    account_no = factory.Sequence(lambda n: f"{5100000000 + n:010d}")
    label = factory.Sequence(lambda n: f"계좌 {n}")
    mode = Mode.SIMULATOR
    app_key = factory.Sequence(lambda n: f"APPKEY-{n:04d}-abcdefghijkl")
    secret_key = factory.Sequence(lambda n: f"SECRET-{n:04d}-zyxwvutsrqpo")
    is_active = False


class BalanceSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BalanceSnapshot

    account = factory.SubFactory(BrokerAccountFactory, is_active=True)
    taken_at = factory.LazyFunction(timezone.now)
    source = "schedule"
    cash = 10_000_000
    d2_cash = 9_500_000
    orderable = 9_500_000
    total_purchase = 1_000_000
    total_evaluation = 1_050_000
    total_profit_loss = 50_000
    total_return_rate = "5.00"
    estimated_assets = 10_550_000
    day_profit_loss = 12_000


class HoldingSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HoldingSnapshot

    snapshot = factory.SubFactory(BalanceSnapshotFactory)
    code = "005930"
    name = "삼성전자"
    quantity = 10
    sellable_quantity = 10
    average_price = 70_000
    current_price = 71_000
    purchase_amount = 700_000
    evaluation_amount = 710_000
    profit_loss = 10_000
    return_rate = "1.43"
