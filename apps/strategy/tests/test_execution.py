"""Signal → order with a fake broker call: one order per signal key, the trading gate, the risk engine's
refusals, sizing within the strategy's budget on the tick grid, strategy exits, the trade_signal push."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.core.models import RuntimeFlag
from apps.risk.models import State
from apps.risk.testing import permissive_config
from apps.strategy import execution, outcome
from apps.strategy.engine.events import Signal
from apps.strategy.execution import (
    ExecutionContext,
    asignal_execute,
    entry_limit_price,
    idempotency_key,
)
from apps.strategy.models import Signal as SignalRow
from apps.strategy.models import SignalStatus
from apps.trades.models import Cause, Order, OrderStatus
from apps.trades.services.aorder import aorder_db_close
from apps.trades.tests.factories import PositionFactory

from .support import DAY, Place, at, settings_of

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "005930"


@pytest.fixture(autouse=True)
async def _close_order_thread():  # type: ignore[no-untyped-def]
    yield
    await aorder_db_close()


@pytest.fixture
def pushes(monkeypatch) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict[str, Any]]] = []

    def publish(event_type: str, data: Any, *args: Any, **kwargs: Any) -> None:
        from django.db import transaction

        transaction.on_commit(lambda: sent.append((event_type, data)))

    for module in (execution, outcome):  # a gated row's push, and every outcome's
        monkeypatch.setattr(module, "publish_after_commit", publish)
    return sent


def switch(on: bool) -> None:
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": on})


@pytest.fixture(autouse=True)
def _open_gate(db) -> None:  # type: ignore[no-untyped-def]
    permissive_config()
    switch(True)


@pytest.fixture(autouse=True, params=["led", "apart"])
def path(request, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """Every test on both paths: "led" (the instrument and the order's planning cached: the signal's
    statement leads the order's transaction, `aorder_submit_led`) and "apart" (the signal's row,
    then the order's transaction: what runs while a cache is cold)."""
    import time

    from apps.trades.services import executor

    if request.param == "led":
        now = time.monotonic()
        monkeypatch.setitem(execution._INSTRUMENTS, CODE, (now, ("KOSPI", "삼성전자")))
        monkeypatch.setitem(executor._MARKETS, CODE, (now, ("KOSPI", "삼성전자")))
    else:
        monkeypatch.setattr(execution, "order_plan_ready", lambda code, account: False)
    return str(request.param)


def signal(side: str = "buy", price: int = 70_000, key: str = "", **kw: Any) -> Signal:
    return Signal(
        strategy=kw.pop("strategy", "first_tick"),
        code=CODE,
        side=side,
        at=at("09:30:00"),
        reason="volume_leader",
        price=price,
        features={"rank": 3, "news_score": 77},
        key=key or f"first_tick:{CODE}:{DAY}:{'entry' if side == 'buy' else 'exit'}",
        **kw,
    )


def context(place: Place, budget: int = 1_000_000, **params: Any) -> ExecutionContext:
    return ExecutionContext(
        account_no=settings.KIWOOM_ACCOUNT,
        strategies={"first_tick": settings_of("first_tick", budget, **params)},
        place=place,
    )


async def test_an_entry_becomes_one_order_with_the_signal(pushes) -> None:  # type: ignore[no-untyped-def]
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.ACCEPTED
    row = await sync_to_async(SignalRow.objects.select_related("order").get)()
    order = row.order
    assert row.status == SignalStatus.ACCEPTED and order is not None
    assert order.cause == Cause.SIGNAL and order.cause_ref == str(row.pk)
    assert order.strategy_tag == "first_tick"
    assert order.idempotency_key == f"signal:{row.key}"
    assert (order.news_score, order.volume_rank) == (77, 3)
    # 0.5% over 70,000 = 70,350, down onto the 100-won grid; whole shares within 1,000,000.
    assert order.price == 70_300 and order.quantity == 14
    assert order.status == OrderStatus.ACCEPTED
    assert len(place.calls) == 1
    assert row.features == {"rank": 3, "news_score": 77}
    assert [t for t, _ in pushes] == ["trade_signal"]
    data = pushes[0][1]
    assert {k: data[k] for k in ("code", "action", "reason")} == {
        "code": CODE,
        "action": "buy",
        "reason": "volume_leader",
    }
    assert data["status"] == "accepted" and data["order_id"] == str(order.pk)


async def test_a_signal_key_is_handled_once() -> None:
    place = Place()
    first, second = await asyncio.gather(
        asignal_execute(signal(), context(place)), asignal_execute(signal(), context(place))
    )
    third = await asignal_execute(signal(), context(place))
    assert sorted([first.status, second.status, third.status]) == [
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert await sync_to_async(SignalRow.objects.count)() == 1
    assert await sync_to_async(Order.objects.count)() == 1
    assert len(place.calls) == 1


@pytest.mark.parametrize(
    ("switch_on", "state", "reason"),
    [(False, State.ACTIVE, "gate_closed"), (True, State.HALTED, "risk_state")],
)
async def test_a_closed_gate_stores_the_entry_gated_without_an_order(  # type: ignore[no-untyped-def]
    switch_on, state, reason, pushes
) -> None:
    from apps.risk.services.gate import halt

    await sync_to_async(switch)(switch_on)
    if state == State.HALTED:
        await sync_to_async(halt)(user=None, reason="test")
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.GATED
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.GATED and row.order_id is None
    assert row.risk_reasons[0]["code"] == reason
    assert not await sync_to_async(Order.objects.exists)()
    assert place.calls == []
    assert [d["status"] for t, d in pushes if t == "trade_signal"] == ["gated"]


async def test_a_risk_refusal_is_rejected_with_its_reasons() -> None:
    from apps.risk.services.config import config_update

    await sync_to_async(config_update)(
        {"max_order_value": 50_000}, user=None, reason="test: smaller than one share"
    )
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.REJECTED
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.REJECTED and row.order_id is None
    assert "order_value" in {r["code"] for r in row.risk_reasons}
    assert not await sync_to_async(Order.objects.exists)()
    assert place.calls == []


async def test_entries_are_sized_within_the_strategy_budget() -> None:
    # The strategy holds another stock for 950,000 of its 1,000,000: one share does not fit.
    await sync_to_async(PositionFactory)(
        code="000660", strategy_tag="first_tick", quantity=5, cost_amount=950_000
    )
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.REJECTED
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.risk_reasons[0]["code"] == "budget"
    # A per-entry amount caps a single order below the budget.
    done = await asignal_execute(
        signal(key="k2", strategy="first_tick"), context(place, 10_000_000, entry_krw=200_000)
    )
    order = await sync_to_async(Order.objects.get)()
    assert order.quantity == 2 and order.price == 70_300


async def test_a_strategy_exit_sells_the_sellable_quantity_even_with_the_gate_closed() -> None:
    await sync_to_async(switch)(False)
    await sync_to_async(PositionFactory)(
        code=CODE, strategy_tag="first_tick", quantity=10, entry_time=at("09:10:00")
    )
    place = Place()
    done = await asignal_execute(signal("sell", 69_000), context(place))
    assert done.status == SignalStatus.ACCEPTED
    order = await sync_to_async(Order.objects.get)()
    assert order.side == "sell" and order.quantity == 10
    assert order.price == 68_400  # 1% under 69,000 = 68,310, up onto the grid
    assert order.cause == Cause.SIGNAL


async def test_an_exit_never_sells_a_position_another_strategy_opened() -> None:
    await sync_to_async(PositionFactory)(code=CODE, strategy_tag="manual", quantity=10)
    done = await asignal_execute(signal("sell", 69_000), context(Place()))
    assert done.status == SignalStatus.REJECTED
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.risk_reasons[0]["code"] == "nothing_sellable"


def test_entry_limit_price_rounds_down_and_stays_within_the_upper_limit() -> None:
    assert entry_limit_price(70_000, Decimal("0.5"), None, "KOSPI", DAY) == 70_300
    assert entry_limit_price(70_000, Decimal("0.5"), 70_100, "KOSPI", DAY) == 70_100
    assert entry_limit_price(1_000, Decimal("0"), None, "KOSDAQ", DAY) == 1_000


def test_long_keys_fit_the_order_column() -> None:
    assert idempotency_key("x" * 120).startswith("signal:")
    assert len(idempotency_key("x" * 120)) <= 100
    assert idempotency_key("abc") == "signal:abc"


async def test_the_signal_row_is_committed_before_the_broker_is_called() -> None:
    from django.db import connection

    def committed() -> bool:
        # Another thread, another connection: it sees only what was committed.
        try:
            return SignalRow.objects.filter(key=f"first_tick:{CODE}:{DAY}:entry").exists()
        finally:
            connection.close()

    seen: list[bool] = []

    class Checking(Place):
        async def __call__(self, **kwargs: Any) -> Any:
            seen.append(await asyncio.to_thread(committed))
            return await super().__call__(**kwargs)

    done = await asignal_execute(signal(), context(Checking()))
    assert done.status == SignalStatus.ACCEPTED and seen == [True]


def _warm(code: str = CODE) -> None:
    import time

    execution._INSTRUMENTS[code] = (time.monotonic(), ("KOSPI", "삼성전자"))


async def test_a_warm_signal_is_stored_on_the_loop_without_a_thread_hop(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The instrument cached: the signal row goes through the order connection (one statement),
    not the database thread; the order and the outcome follow as before."""
    _warm()
    hops: list[str] = []
    original = execution.db_call

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(fn.__name__)
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(execution, "db_call", counting)
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.ACCEPTED and len(place.calls) == 1
    assert "signal_prepare" not in hops and "_prepared" not in hops
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.ACCEPTED and row.name == "삼성전자"
    again = await asignal_execute(signal(), context(place))
    assert again.status == "duplicate" and len(place.calls) == 1


async def test_a_warm_entry_behind_a_closed_gate_is_gated(pushes) -> None:  # type: ignore[no-untyped-def]
    _warm()
    await sync_to_async(switch)(False)
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.GATED and place.calls == []
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.GATED and row.risk_reasons[0]["code"] == "gate_closed"
    assert [d["status"] for t, d in pushes if t == "trade_signal"] == ["gated"]
    exit_done = await asignal_execute(signal("sell"), context(place))
    assert exit_done.status != SignalStatus.GATED  # exits always go on


# --------------------------------------------------------------------------- interrupted by a restart
def test_signals_a_killed_process_left_new_get_their_outcome_at_the_next_start() -> None:
    """Killed between the signal's row and its outcome: with its order's row made, the signal is
    `accepted` with it (reconciliation settles the order); without, `failed` — never left `new`. A
    signal the process is executing, another day's and a settled one are left alone."""
    from apps.trades.tests.factories import OrderFactory

    from .factories import SignalFactory

    made = SignalFactory(key="opening_breakout:005930:2025-01-15:entry", status=SignalStatus.NEW)
    order = OrderFactory(
        idempotency_key=execution.idempotency_key(made.key), status=OrderStatus.SUBMITTED
    )
    lost = SignalFactory(
        key="opening_breakout:000660:2025-01-15:entry", code="000660", status=SignalStatus.NEW
    )
    flying = SignalFactory(
        key="opening_breakout:035420:2025-01-15:entry", code="035420", status=SignalStatus.NEW
    )
    other_day = SignalFactory(
        key="opening_breakout:005930:2025-01-14:entry",
        day=dt.date(2025, 1, 14),
        status=SignalStatus.NEW,
    )
    done = SignalFactory(code="051910", status=SignalStatus.ACCEPTED)
    settled = execution.signals_interrupted_settle(dt.date(2025, 1, 15), frozenset({flying.key}))
    assert sorted(p["code"] for p in settled) == ["000660", "005930"]
    for row in (made, lost, flying, other_day, done):
        row.refresh_from_db()
    assert (made.status, made.order_id) == (SignalStatus.ACCEPTED, order.pk)
    assert lost.status == SignalStatus.FAILED and lost.order_id is None
    assert "restart" in lost.risk_reasons[0]["message"]
    assert flying.status == other_day.status == SignalStatus.NEW
    assert done.status == SignalStatus.ACCEPTED
    [again] = execution.signals_interrupted_settle(dt.date(2025, 1, 15))  # no longer in flight
    assert again["code"] == "035420" and again["status"] == SignalStatus.FAILED


async def test_an_entry_is_sized_under_the_risk_max_order_value() -> None:
    """The risk configuration allows 200,000 KRW an order: the entry buys 2 shares at 70,300 (not
    14 within the strategy's 1,000,000 budget, which the pre-trade check would refuse)."""
    from apps.risk.selectors import active_config
    from apps.risk.services.config import config_update

    await sync_to_async(config_update)({"max_order_value": 200_000}, user=None, reason="test")
    await sync_to_async(active_config)()  # this process knows the version now
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.ACCEPTED
    order = await sync_to_async(Order.objects.get)()
    assert (order.quantity, order.price) == (2, 70_300)


async def test_an_entry_is_sized_under_the_weight_per_stock(settings) -> None:  # type: ignore[no-untyped-def]
    """Weight per stock 10 % of a 5,000,000 KRW opening equity = 500,000; 5 shares held at 70,000
    (350,000, another strategy's) leave 150,000: the entry buys 2 shares at 70,300 rather than 14 that
    the pre-trade check would refuse; with the room below one share it is rejected as `weight`."""
    from apps.risk.selectors import active_config
    from apps.risk.services.config import config_update
    from apps.risk.snapshot import opening_of

    settings.RISK_EQUITY_FALLBACK_KRW = 5_000_000
    await sync_to_async(config_update)({"weight_pct": "10"}, user=None, reason="test")
    await sync_to_async(active_config)()
    await sync_to_async(opening_of)(
        settings.KIWOOM_ACCOUNT, DAY, {}
    )  # the session's opening equity
    await sync_to_async(PositionFactory)(
        code=CODE, strategy_tag="other", quantity=5, cost_amount=340_000, current_price=70_000
    )
    place = Place()
    done = await asignal_execute(signal(), context(place))
    assert done.status == SignalStatus.ACCEPTED
    order = await sync_to_async(Order.objects.get)()
    assert (order.quantity, order.price) == (2, 70_300)
    # That order's 140,600 counts too: 9,400 left, less than a share.
    done = await asignal_execute(signal(key="k-weight-2"), context(place))
    assert done.status == SignalStatus.REJECTED
    row = await sync_to_async(SignalRow.objects.get)(key="k-weight-2")
    assert row.risk_reasons[0]["code"] == "weight"


def test_weight_room_is_the_limit_less_the_exposure_and_unknown_without_equity() -> None:
    from apps.strategy.sizing import weight_room

    assert weight_room(Decimal("10"), 5_000_000, 350_000) == 150_000
    assert weight_room(Decimal("7.5"), 1_000_001, 0) == 75_000  # rounded down
    assert weight_room(Decimal("10"), 5_000_000, 600_000) == 0
    assert weight_room(Decimal("10"), None, 0) is None
    assert weight_room(Decimal("10"), 0, 0) is None


async def test_an_entry_looks_its_news_score_up_while_the_signal_row_commits(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No score in the features or the candidate: the lookup and the signal row run together (the
    lookup here answers only once the row is in; were they one after the other, it would wait in
    vain), and the order carries the score found."""
    from apps.strategy import feeds

    row_done = asyncio.Event()
    started: list[str] = []
    prepare = execution.asignal_prepare

    async def prepared(*args: Any, **kwargs: Any) -> Any:
        result = await prepare(*args, **kwargs)
        row_done.set()
        return result

    async def lookup(code: str) -> int | None:
        started.append(code)
        await asyncio.wait_for(row_done.wait(), 5)
        return 64

    monkeypatch.setattr(execution, "asignal_prepare", prepared)
    monkeypatch.setattr(feeds, "aget_news_score", lookup)
    place = Place()
    entry = dataclasses.replace(signal(), features={"rank": 3})
    done = await asignal_execute(entry, context(place))
    assert done.status == SignalStatus.ACCEPTED and started == [CODE]
    order = await sync_to_async(Order.objects.get)()
    assert (order.news_score, order.volume_rank) == (64, 3)


async def test_a_duplicate_entry_leaves_its_news_lookup_to_finish(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A lookup is never cancelled (a lookup given up counts the news service as too slow): a
    signal that goes no further lets it finish."""
    from apps.strategy import feeds

    finished: list[str] = []

    async def lookup(code: str) -> int | None:
        await asyncio.sleep(0.05)
        finished.append(code)
        return 50

    monkeypatch.setattr(feeds, "aget_news_score", lookup)
    place = Place()
    entry = dataclasses.replace(signal(), features={"rank": 3})
    assert (await asignal_execute(entry, context(place))).status == SignalStatus.ACCEPTED
    again = await asignal_execute(entry, context(place))
    assert again.status == "duplicate"
    await asyncio.sleep(0.2)
    assert finished == [CODE, CODE]
    assert len(place.calls) == 1
