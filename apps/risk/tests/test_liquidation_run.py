"""The liquidation run against a fake broker (no sockets): queued orders rejected before they are sent,
live orders cancelled, each holding sold at a marketable limit within the lower limit, and what cannot
be sold reported with its reason (halted, 하한가, a broker refusal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.broker.contract import CancelAck, Direction, OrderAck, OrderRejected, Quote
from apps.market.tests.factories import InstrumentFactory
from apps.risk.services.liquidation import (
    liquidation_check,
    liquidation_request,
    liquidation_run,
)
from apps.trades.models import Cause, Order, OrderStatus, Position
from apps.trades.tests.factories import OrderFactory, PositionFactory

pytestmark = pytest.mark.django_db


class FakeBroker:
    def __init__(self, quotes: dict[str, tuple[int, int]], refuse: set[str] = frozenset()) -> None:
        self.quotes = quotes  # code → (price, lower limit)
        self.refuse = refuse
        self.placed: list[dict[str, Any]] = []
        self.cancelled: list[str] = []

    def quote(self, code: str) -> Quote:
        price, lower = self.quotes[code]
        return Quote(
            code, "", price, Direction.FLAT, 0, None, None, None, None, None, None, lower, 0, 0
        )

    def place_order(self, **kwargs: Any) -> OrderAck:
        self.placed.append(kwargs)
        if kwargs["code"] in self.refuse:
            raise OrderRejected("8888", "변동성완화장치(VI) 발동 종목입니다")
        return OrderAck(order_no=f"S{len(self.placed):06d}", exchange="KRX")

    def cancel_order(self, order_no: str, code: str, quantity: int = 0) -> CancelAck:
        self.cancelled.append(order_no)
        return CancelAck(order_no=f"C{order_no}", original_order_no=order_no, quantity=quantity)


def test_run_cancels_rejects_sells_and_reports(trader) -> None:
    PositionFactory(code="005930", quantity=10, market="KOSPI")
    PositionFactory(code="000660", quantity=5, market="KOSPI")  # on its lower limit
    PositionFactory(code="035420", quantity=3, market="KOSPI")  # VI: the broker refuses
    PositionFactory(code="111111", quantity=7, market="KOSPI")  # halted
    InstrumentFactory(code="111111", is_halted=True)
    resting = OrderFactory(code="005930", side="buy", status=OrderStatus.ACCEPTED)
    queued = OrderFactory(code="000660", side="buy", status=OrderStatus.NEW, broker_order_no="")
    broker = FakeBroker(
        {"005930": (70_000, 49_000), "000660": (100_000, 100_000), "035420": (200_000, 140_000)},
        refuse={"035420"},
    )
    run, created = liquidation_request(trader, "테스트", None, enqueue=False)
    assert created
    done = liquidation_run(run.id, broker, schedule_checks=False)
    assert done.status == "watching", done.message

    resting.refresh_from_db()
    queued.refresh_from_db()
    assert resting.status == OrderStatus.CANCELLED and broker.cancelled == [resting.broker_order_no]
    assert queued.status == OrderStatus.REJECTED  # never sent: its task finds nothing to claim
    assert done.cancel_total == 1 and done.cancelled == 1

    lines = {line.code: line for line in done.lines}
    # 3% under 70,000 = 67,900 (on the 100-won grid).
    assert lines["005930"].state == "sent" and lines["005930"].price == 67_900
    # On the lower limit: sold at the limit itself, and said so.
    assert lines["000660"].price == 100_000 and "하한가" in lines["000660"].reason
    assert lines["035420"].state == "blocked" and "VI" in lines["035420"].reason
    assert lines["111111"].state == "blocked" and "거래정지" in lines["111111"].reason
    assert {p["code"] for p in broker.placed} == {"005930", "000660", "035420"}
    sells = Order.objects.filter(side="sell")
    assert {s.cause for s in sells} == {Cause.LIQUIDATION} and {s.cause_ref for s in sells} == {
        run.id
    }

    # Nothing filled yet; the watch time is over: the run ends incomplete, the lock released.
    final = liquidation_check(run.id, final=True)
    assert final is not None and final.status == "incomplete"
    assert {u["code"] for u in final.as_dict()["unsold"]} == {
        "005930",
        "000660",
        "035420",
        "111111",
    }
    # The next press starts a new run (the last one has ended).
    again, created_again = liquidation_request(trader, "다시", None, enqueue=False)
    assert created_again and again.id != run.id


def test_a_flat_account_ends_done_at_once(trader) -> None:
    run, _ = liquidation_request(trader, "", None, enqueue=False)
    assert run.reason == "비상 전체 청산"
    done = liquidation_run(run.id, FakeBroker({}), schedule_checks=False)
    assert done.lines == [] and done.cancel_total == 0
    final = liquidation_check(run.id)
    assert final is not None and final.status == "done"
    assert not Position.objects.exists()


def test_slippage_setting(trader, settings) -> None:
    settings.RISK_LIQUIDATION_SLIPPAGE_PCT = "1"
    PositionFactory(code="005930", quantity=1, market="KOSPI")
    broker = FakeBroker({"005930": (70_000, 49_000)})
    run, _ = liquidation_request(trader, "", None, enqueue=False)
    done = liquidation_run(run.id, broker, schedule_checks=False)
    assert done.lines[0].price == 69_300
    assert Order.objects.get(side="sell").reference_price == 70_000
    assert Decimal(done.lines[0].price) / 70_000 >= Decimal("0.99")
