"""factory-boy factories of the strategy app."""

from __future__ import annotations

import datetime as dt

import factory

from apps.strategy.engine.runner import REGISTRY
from apps.strategy.models import Signal, StrategyConfig
from krx import KST


class StrategyConfigFactory(factory.django.DjangoModelFactory):
    """A version of a strategy with its schema's defaults (version 1 unless given)."""

    class Meta:
        model = StrategyConfig
        django_get_or_create = ("strategy", "version")  # the migration may have seeded it

    strategy = "opening_breakout"
    version = 1
    enabled = True
    budget_krw = 10_000_000
    reason = "test"
    params = factory.LazyAttribute(
        lambda o: REGISTRY[o.strategy].schema.to_json(REGISTRY[o.strategy].schema.defaults())
    )


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    strategy = "opening_breakout"
    code = "005930"
    name = "삼성전자"
    side = "buy"
    day = dt.date(2025, 1, 15)
    at = dt.datetime(2025, 1, 15, 9, 7, 10, tzinfo=KST)
    key = factory.LazyAttribute(lambda o: f"{o.strategy}:{o.code}:{o.day}:entry")
    price = 10_150
    reason = "장초 고가 10,100 돌파"
    features = factory.LazyFunction(
        lambda: {"rank": 2, "news_score": 85, "vwap_distance_pct": 1.45}
    )
