"""factory-boy factories of the reports app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from apps.reports.models import IndexDailyBar


class IndexBarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IndexDailyBar

    index_code = "KS11"
    date = dt.date(2025, 2, 4)
    close = Decimal("2500.00")
    open = factory.LazyAttribute(lambda o: o.close)
    high = factory.LazyAttribute(lambda o: o.close)
    low = factory.LazyAttribute(lambda o: o.close)
    prev_close = None
    volume = 0
    value = 0
