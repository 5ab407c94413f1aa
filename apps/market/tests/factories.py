"""factory-boy factories of the market app."""

from __future__ import annotations

import datetime as dt

import factory

from apps.market.models import DailyBar, Instrument, Market, MinuteBar


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{n + 100000:06d}")
    name = factory.Sequence(lambda n: f"종목{n}")
    market = Market.KOSPI
    listed_shares = 1_000_000


class DailyBarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyBar

    instrument = factory.SubFactory(InstrumentFactory)
    date = dt.date(2025, 2, 3)
    open = 70_000
    high = 71_000
    low = 69_500
    close = 70_500
    prev_close = 70_000
    volume = 1_000_000
    value = 70_400_000_000


class MinuteBarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MinuteBar

    instrument = factory.SubFactory(InstrumentFactory)
    time = dt.datetime(2025, 2, 3, 0, 1, tzinfo=dt.UTC)  # 09:01 KST
    open = 70_000
    high = 70_100
    low = 69_900
    close = 70_000
    volume = 1_000
    value = None


class SignalFactory(factory.django.DjangoModelFactory):
    """A strategy signal (`apps.strategy.models.Signal`) for the chart's markers; the strategy app's tests
    have no factories yet — move it there when they do."""

    class Meta:
        model = "strategy.Signal"

    key = factory.Sequence(lambda n: f"opening_leader:005930:2025-02-03:entry:{n}")
    strategy = "opening_leader"
    code = "005930"
    name = "삼성전자"
    side = "buy"
    day = dt.date(2025, 2, 3)
    at = dt.datetime(2025, 2, 3, 0, 5, 3, tzinfo=dt.UTC)  # 09:05:03 KST
    price = 70_500
    reason = "opening range high broken above VWAP"
