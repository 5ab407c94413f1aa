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


def test_the_positional_row_equals_djangos_keyword_row() -> None:
    """`order_new` (the executor's fast constructor) gives every column the value `Order(**kw)`
    gives: the values given, each field's default otherwise, a fresh id per row."""
    from django.contrib.auth import get_user_model

    from apps.trades.services.insert import order_new

    user = get_user_model()(pk=7, username="trader")
    given = {
        "account_no": "81234567",
        "code": "005930",
        "name": "삼성전자",
        "side": "sell",
        "order_type": "market",
        "quantity": 3,
        "price": None,
        "strategy_tag": "opening_breakout",
        "cause": "signal",
        "cause_ref": "42",
        "idempotency_key": None,
        "reference_price": 55_000,
        "slippage_cap_pct": Decimal("0.5"),
        "parent_id": None,
        "news_score": 80,
        "volume_rank": 2,
    }
    ours = order_new(**given, created_by_id=user.pk)
    django = Order(**given, created_by=user)
    other = order_new(**given)
    assert ours._state.adding and ours._state.db is None
    for f in Order._meta.concrete_fields:
        if f.attname == "id":
            continue
        mine, theirs = getattr(ours, f.attname), getattr(django, f.attname)
        assert (f.attname, mine, type(mine)) == (f.attname, theirs, type(theirs))
    assert isinstance(ours.id, uuid.UUID) and len({ours.id, other.id, django.id}) == 3
    assert other.created_by_id is None and other.status == OrderStatus.NEW
    assert other.filled_quantity == 0 and other.market == "KOSPI" and other.message == ""
