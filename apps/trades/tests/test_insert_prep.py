"""The order row's parameters: the insert's own preparation of each column equals Django's."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db import connection

from apps.trades.models import Order, OrderStatus
from apps.trades.services.insert import _preps


def test_the_fast_preparation_of_every_column_equals_djangos() -> None:
    now = dt.datetime(2025, 1, 15, 0, 5, 6, 123456, tzinfo=dt.UTC)
    full = Order(
        id=uuid.uuid4(),
        account_no="81234567",
        code="005930",
        name="삼성전자",
        market="KOSPI",
        side="buy",
        order_type="limit",
        quantity=10,
        price=55_000,
        avg_fill_price=Decimal("55012.5"),
        status=OrderStatus.SUBMITTED,
        parent_id=uuid.uuid4(),
        idempotency_key="signal:1",
        reference_price=54_900,
        slippage_cap_pct=Decimal("0.5"),
        news_score=71,
        volume_rank=3,
        created_at=now,
        submitted_at=now,
    )
    empty = Order(id=uuid.uuid4(), code="000660", quantity=1)
    naive = Order(id=uuid.uuid4(), code="000660", quantity=1, created_at=now.replace(tzinfo=None))
    for order in (full, empty, naive):
        ours = [prep(getattr(order, attname), connection) for attname, prep in _preps()]
        django = [
            f.get_db_prep_save(getattr(order, f.attname), connection)
            for f in Order._meta.concrete_fields
        ]
        assert [repr(v) for v in ours] == [repr(v) for v in django]
        assert [type(v) for v in ours] == [type(v) for v in django]
