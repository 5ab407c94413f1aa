"""factory-boy factories of the scanner's tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from apps.strategy.scanner_models import ScanRow, ScanSnapshot
from krx import KST

DAY = dt.date(2025, 2, 4)


class ScanSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanSnapshot

    at = factory.Sequence(lambda n: dt.datetime(2025, 2, 4, 9, n % 60, 5, tzinfo=KST))
    day = DAY
    sources = ["trading_value", "volume_surge", "change_rate"]
    duration_ms = 120
    news = "ok"
    row_count = 0


class ScanRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanRow

    snapshot = factory.SubFactory(ScanSnapshotFactory)
    rank = factory.Sequence(lambda n: n + 1)
    code = factory.Sequence(lambda n: f"{n + 1:06d}")
    name = factory.Sequence(lambda n: f"종목{n + 1}")
    price = 10_000
    change_pct = Decimal("1.50")
    value_krw = factory.Sequence(lambda n: 10_000_000_000 - n * 1_000_000)
    volume = 1_000_000
    volume_ratio = Decimal("2.25")
    news_score = 70
    value_rank = factory.SelfAttribute("rank")


def snapshot_with_rows(at: dt.datetime, codes: list[str], **kwargs: object) -> ScanSnapshot:
    snapshot = ScanSnapshotFactory(
        at=at, day=at.astimezone(KST).date(), row_count=len(codes), **kwargs
    )
    for i, code in enumerate(codes, 1):
        ScanRowFactory(snapshot=snapshot, rank=i, code=code, name=f"종목{code}")
    return snapshot
