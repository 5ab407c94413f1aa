"""The backtest's order and balance events: built positionally on the hot path, read by name."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from apps.broker.backtest.events import BacktestBalanceEvent, BacktestOrderEvent
from apps.broker.backtest.fills import order_event
from apps.broker.contract import BalanceEvent, OrderEvent, OrderStatus, Side
from apps.broker.simulator import dto as sim
from apps.broker.simulator.accounts import Order
from krx import KST, Market

AT = dt.datetime(2024, 3, 4, 9, 5, tzinfo=KST)


def _order(**over: object) -> Order:
    fields: dict[str, object] = {
        "account": "BACKTEST", "order_no": "0000007", "orig_order_no": "0000003",
        "base_order_no": "0000003", "code": "005930", "name": "삼성전자", "market": Market.KOSPI,
        "side": sim.Side.SELL, "action": sim.OrderAction.NEW, "order_type": sim.OrderType.LIMIT,
        "qty": 30, "price": 71_000, "time": AT, "seq": 7, "remaining": 10, "filled_qty": 20,
        "filled_value": 1_420_500, "commission": 213, "tax": 2_841,
    }  # fmt: skip
    fields.update(over)
    return Order(**fields)  # type: ignore[arg-type]


def _fill(o: Order) -> sim.Fill:
    return sim.Fill(
        account=o.account, fill_no="0000042", order_no=o.order_no, orig_order_no=o.orig_order_no,
        code=o.code, name=o.name, side=o.side, order_type=o.order_type, order_qty=o.qty,
        order_price=o.price, qty=5, price=71_100, time=AT, commission=53, tax=710, remaining_qty=10,
    )  # fmt: skip


def test_the_positional_event_has_every_field_where_its_name_says() -> None:
    o = _order()
    fill = _fill(o)
    event = order_event(o, OrderStatus.PARTIALLY_FILLED, AT, fill)
    assert event == BacktestOrderEvent(
        code="005930", day=dt.date(2024, 3, 4), account="BACKTEST", order_no="0000007",
        original_order_no="0000003", status=OrderStatus.PARTIALLY_FILLED, name="삼성전자",
        order_kind="-매도", side=Side.SELL, order_type_name="보통", quantity=30, price=71_000,
        remaining=10, filled_value=1_420_500, at=AT, execution_no="0000042", fill_price=71_025,
        filled_quantity=20, unit_fill_price=71_100, unit_fill_quantity=5, fee=213, tax=2_841,
        reject_reason=None,
    )  # fmt: skip
    # By name, field by field (tuple equality alone would not catch two swapped fields of one type).
    assert (event.remaining, event.filled_quantity, event.quantity) == (10, 20, 30)
    assert (event.fee, event.tax, event.unit_fill_quantity) == (213, 2_841, 5)
    assert (event.fill_price, event.unit_fill_price, event.price) == (71_025, 71_100, 71_000)
    assert (event.execution_no, event.order_no, event.original_order_no) == (
        "0000042", "0000007", "0000003",
    )  # fmt: skip


def test_an_event_without_a_fill_and_a_market_buy() -> None:
    o = _order(side=sim.Side.BUY, order_type=sim.OrderType.MARKET, price=0, filled_qty=0,
               filled_value=0, remaining=30, commission=0, tax=0)  # fmt: skip
    event = order_event(o, OrderStatus.ACCEPTED, AT)
    assert (event.order_kind, event.side, event.order_type_name) == ("+매수", Side.BUY, "시장가")
    assert event.price is None and event.fill_price is None and event.execution_no is None
    assert event.unit_fill_price is None and event.unit_fill_quantity is None
    assert event.filled_quantity == 0 and event.remaining == 30


def test_events_are_the_contracts_immutable_and_pickle() -> None:
    event = order_event(_order(), OrderStatus.ACCEPTED, AT)
    balance = BacktestBalanceEvent(
        code="005930", day=AT.date(), account="BACKTEST", name="삼성전자", quantity=10,
        average_price=70_000, purchase_amount=700_000, sellable_quantity=10, current_price=71_000,
        base_price=70_500, realized_profit_loss=0,
    )  # fmt: skip
    assert isinstance(event, OrderEvent) and isinstance(balance, BalanceEvent)
    # The fields, not the contract's abstract properties:
    assert event.code == balance.code == "005930"
    assert event.day == balance.day == dt.date(2024, 3, 4)
    with pytest.raises(AttributeError):
        event.remaining = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        balance.quantity = 0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(event)) == event  # noqa: S301 - our own bytes
    assert type(pickle.loads(pickle.dumps(balance))) is BacktestBalanceEvent  # noqa: S301
