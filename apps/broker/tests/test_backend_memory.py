"""The in-memory broker: the contract's behaviour the apps' unit tests rely on."""

from __future__ import annotations

import asyncio

import pytest

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import (
    AmbiguousOutcome,
    BalanceEvent,
    Broker,
    InvalidRequest,
    OrderEvent,
    OrderRejected,
    OrderStatus,
    OrderType,
    Side,
)


@pytest.fixture
def broker() -> MemoryBroker:
    b = MemoryBroker(cash=10_000_000)
    b.set_quote("005930", 75_000, "삼성전자")
    return b


def test_is_a_broker(broker: MemoryBroker) -> None:
    assert isinstance(broker, Broker)


def test_limit_order_lifecycle(broker: MemoryBroker) -> None:
    ack = broker.place_order(Side.BUY, "005930", 10, OrderType.LIMIT, 74_000)
    (open_order,) = broker.open_orders()
    assert (open_order.order_no, open_order.remaining) == (ack.order_no, 10)
    broker.fill(ack.order_no, 4)
    status = broker.order_status(ack.order_no)
    assert status is not None and (status.filled_quantity, status.remaining) == (4, 6)
    assert status.average_fill_price == 74_000
    amend = broker.amend_order(ack.order_no, "005930", 0, 74_500)
    assert amend.quantity == 6 and amend.original_order_no == ack.order_no
    cancel = broker.cancel_order(amend.order_no, "005930")
    assert cancel.quantity == 6
    assert broker.open_orders() == []
    (holding,) = broker.holdings()
    assert (holding.code, holding.quantity, holding.average_price) == ("005930", 4, 74_000)
    balance = broker.balance()
    assert balance.cash == 10_000_000 - 4 * 74_000
    assert broker.fills()[0].fill_quantity == 4


def test_market_order_fills_at_quote(broker: MemoryBroker) -> None:
    broker.place_order(Side.BUY, "005930", 2, OrderType.MARKET)
    assert broker.holdings()[0].quantity == 2
    broker.place_order(Side.SELL, "005930", 2, OrderType.MARKET)
    assert broker.holdings() == []
    assert broker.balance().cash == 10_000_000


def test_rejections_and_injected_failures(broker: MemoryBroker) -> None:
    with pytest.raises(OrderRejected):
        broker.place_order(Side.BUY, "005930", 1_000, OrderType.MARKET)
    with pytest.raises(OrderRejected):
        broker.place_order(Side.SELL, "005930", 1, OrderType.MARKET)
    with pytest.raises(InvalidRequest):
        broker.quote("999999")
    broker.fail_next(AmbiguousOutcome("reply lost"))
    with pytest.raises(AmbiguousOutcome):
        broker.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert broker.orders == {}
    assert [name for name, _ in broker.calls].count("place_order") == 3


def test_conditions(broker: MemoryBroker) -> None:
    broker.add_condition("1", "급등", ["005930", "000660"])
    assert [c.name for c in broker.conditions()] == ["급등"]
    assert [h.code for h in broker.condition_search("1")] == ["005930", "000660"]


async def test_realtime_feed_receives_order_events(broker: MemoryBroker) -> None:
    feed = broker.realtime()
    await feed.start()
    await feed.subscribe_account()
    await asyncio.to_thread(broker.place_order, Side.BUY, "005930", 1, OrderType.MARKET)
    kinds = []
    for _ in range(3):
        event = await asyncio.wait_for(feed.queue.get(), 5)
        kind = "OrderEvent" if isinstance(event, OrderEvent) else type(event).__name__
        kinds.append((kind.removeprefix("Kiwoom"), getattr(event, "status", None)))
    assert kinds == [
        ("OrderEvent", OrderStatus.ACCEPTED),
        ("OrderEvent", OrderStatus.FILLED),
        ("BalanceEvent", None),
    ]
    assert isinstance(event, BalanceEvent) and event.quantity == 1
    assert not isinstance(event, OrderEvent)
    await feed.close()
