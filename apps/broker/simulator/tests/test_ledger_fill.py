"""`Ledger.book_fill` builds its `Fill` positionally (the backtest's hot path): every field, read by name,
is the one it should be — including the pairs of one type that a swapped position would not catch by
type (order quantity and fill quantity, order price and fill price, commission and tax)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from apps.broker.simulator.dto import Fill, Instrument, OrderType, Side
from apps.broker.simulator.ledger import Ledger
from krx import KST, Market

DAY = dt.date(2026, 3, 3)
AT = dt.datetime(2026, 3, 3, 9, 5, tzinfo=KST)


def test_book_fill_fields_by_name() -> None:
    ledger = Ledger(100_000_000, Decimal("0.00015"))
    ledger.open_account("A1", None)
    inst = Instrument("005930", "삼성전자", Market.KOSPI, 70_000, 5_969_782_550, 10_000_000)
    buy = ledger.new_order("A1", Side.BUY, inst, 10, 70_000, OrderType.LIMIT, 70_000, AT)
    ledger.book_fill(buy, 10, 69_900, AT, DAY)
    sell = ledger.new_order("A1", Side.SELL, inst, 10, 71_000, OrderType.LIMIT, 71_000, AT)
    fill = ledger.book_fill(sell, 4, 71_100, AT + dt.timedelta(minutes=1), DAY)

    assert isinstance(fill, Fill)
    assert fill.account == "A1"
    assert fill.fill_no == "0000002"
    assert fill.order_no == sell.order_no != buy.order_no
    assert fill.orig_order_no is None
    assert (fill.code, fill.name) == ("005930", "삼성전자")
    assert fill.side is Side.SELL
    assert fill.order_type is OrderType.LIMIT
    assert (fill.order_qty, fill.qty, fill.remaining_qty) == (10, 4, 6)
    assert (fill.order_price, fill.price) == (71_000, 71_100)
    assert fill.time == AT + dt.timedelta(minutes=1)
    amount = 4 * 71_100
    assert fill.commission == amount * 15 // 100_000  # 0.015 %, rounded down
    assert fill.tax == amount * 20 // 10_000  # KOSPI 2026: 0.20 %, rounded down
    assert fill.commission != fill.tax
    assert ledger.fill_log["A1"][-1] is fill
    assert fill == Fill(
        account="A1", fill_no="0000002", order_no=sell.order_no, orig_order_no=None,
        code="005930", name="삼성전자", side=Side.SELL, order_type=OrderType.LIMIT, order_qty=10,
        order_price=71_000, qty=4, price=71_100, time=AT + dt.timedelta(minutes=1),
        commission=fill.commission, tax=fill.tax, remaining_qty=6,
    )  # fmt: skip
