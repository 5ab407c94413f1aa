"""The led path (`aorder_submit_led`): the signal's statement goes out with the order transaction's
first round trip. Two round trips for the signal and its order; whatever the decision or the fault,
never an order without its signal row, never a second order for one key, nothing left locked."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django import db
from django.conf import settings

from apps.core.models import RuntimeFlag
from apps.core.pgpipe import Pipe
from apps.risk.testing import permissive_config
from apps.strategy import execution
from apps.strategy.engine.events import Signal
from apps.strategy.execution import ExecutionContext, asignal_execute
from apps.strategy.models import Signal as SignalRow
from apps.strategy.models import SignalStatus
from apps.trades.models import Order
from apps.trades.services import aorder, executor
from apps.trades.services.aorder import aorder_db_close

from .support import DAY, Place, at, settings_of

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "005930"


@pytest.fixture(autouse=True)
async def _close_order_thread():  # type: ignore[no-untyped-def]
    yield
    await aorder_db_close()


@pytest.fixture(autouse=True)
def _warm(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The gate open; the instrument and the order's planning cached: the led path is taken."""
    permissive_config()
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    now = time.monotonic()
    monkeypatch.setitem(execution._INSTRUMENTS, CODE, (now, ("KOSPI", "삼성전자")))
    monkeypatch.setitem(executor._MARKETS, CODE, (now, ("KOSPI", "삼성전자")))


@pytest.fixture
def syncs(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Round trips on the order connection (`Pipe.sync` calls)."""
    counted: list[int] = []
    original = Pipe.sync

    async def sync(self: Pipe, tail: Any = ()) -> Any:
        counted.append(1)
        return await original(self, tail)

    monkeypatch.setattr(Pipe, "sync", sync)
    return counted


def entry(n: int = 1, **kw: Any) -> Signal:
    return Signal(
        strategy="first_tick",
        code=CODE,
        side="buy",
        at=at("09:30:00"),
        reason="volume_leader",
        price=70_000,
        features={"rank": 3, "news_score": 77},
        key=f"first_tick:{CODE}:{DAY}:entry:{n}",
        **kw,
    )


def context(place: Place, budget: int = 100_000_000) -> ExecutionContext:
    return ExecutionContext(
        account_no=settings.KIWOOM_ACCOUNT,
        strategies={"first_tick": settings_of("first_tick", budget, entry_krw=100_000)},
        place=place,
    )


def _rows() -> tuple[list[tuple[str, str]], list[str]]:
    signals = list(SignalRow.objects.order_by("pk").values_list("key", "status"))
    orders = list(Order.objects.order_by("created_at").values_list("idempotency_key", flat=True))
    return signals, orders


async def _idle() -> None:
    """Nothing of the order connection's transaction stays open (the account is not locked)."""
    await aorder._CONN.settle()  # the last order's snapshot, sent behind its COMMIT
    pipe = aorder._CONN.pipe
    assert pipe is None or pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_the_signal_and_its_order_take_two_round_trips(syncs: list[int]) -> None:
    place = Place()
    await asignal_execute(entry(0), context(place))  # the connection and the caches warmed
    syncs.clear()
    done = await asignal_execute(entry(1), context(place))
    assert done.status == SignalStatus.ACCEPTED and len(syncs) == 2 and len(place.calls) == 2
    signals, orders = await sync_to_async(_rows)()
    assert signals[-1] == (entry(1).key, SignalStatus.ACCEPTED)
    assert orders[-1] == f"signal:{entry(1).key}"
    again = await asignal_execute(entry(1), context(place))
    assert again.status == "duplicate" and len(place.calls) == 2
    assert len((await sync_to_async(_rows)())[1]) == 2
    await _idle()


async def test_a_gated_entry_leaves_no_order_and_no_lock() -> None:
    await sync_to_async(RuntimeFlag.objects.filter(key="trading-enabled").update)(enabled=False)
    place = Place()
    done = await asignal_execute(entry(), context(place))
    assert done.status == SignalStatus.GATED and place.calls == []
    await _idle()
    signals, orders = await sync_to_async(_rows)()
    assert signals == [(entry().key, SignalStatus.GATED)] and orders == []
    # An exit is never gated, and the account is free for it.
    await sync_to_async(RuntimeFlag.objects.filter(key="trading-enabled").update)(enabled=True)
    assert (await asignal_execute(entry(2), context(place))).status == SignalStatus.ACCEPTED


async def test_an_entry_the_budget_cannot_size_is_rejected_without_an_order() -> None:
    place = Place()
    done = await asignal_execute(entry(), context(place, budget=10_000))  # < one share (70,300)
    assert done.status == SignalStatus.REJECTED and place.calls == []
    await _idle()
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.REJECTED and row.risk_reasons
    assert await sync_to_async(Order.objects.count)() == 0


async def test_a_risk_refusal_on_the_led_path_keeps_its_reasons() -> None:
    """A limit only the pre-trade check knows (entries per minute, from the orders it reads under
    the lock): refused there, nothing sent, the reasons on the signal."""
    from apps.risk.services.config import config_update

    await sync_to_async(config_update)(
        {"max_entries_per_minute": 1}, user=None, reason="test: one entry a minute"
    )
    place = Place()
    assert (await asignal_execute(entry(0), context(place))).status == SignalStatus.ACCEPTED
    done = await asignal_execute(entry(1), context(place))
    assert len(place.calls) == 1
    row = await sync_to_async(SignalRow.objects.get)(key=entry(1).key)
    assert done.status == row.status == SignalStatus.REJECTED
    assert "entry_rate" in {r["code"] for r in row.risk_reasons}
    assert await sync_to_async(Order.objects.count)() == 1
    await _idle()


async def test_a_reply_lost_after_the_signal_committed_never_makes_a_second_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first round trip ran (the signal's row committed) but its reply never came: whether it
    ran is unknown, so the signal is decided again the slow way, which finds its row — a duplicate:
    no order, nothing sent (the safe side); the next signal goes through on a new connection."""
    place = Place()
    await asignal_execute(entry(0), context(place))
    original = Pipe.sync
    lost = {"n": 0}

    async def sync(self: Pipe, tail: Any = ()) -> Any:
        statements = await original(self, tail)
        if lost["n"] == 0:
            lost["n"] += 1
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return statements

    monkeypatch.setattr(Pipe, "sync", sync)
    done = await asignal_execute(entry(1), context(place))
    assert done.status == "duplicate" and len(place.calls) == 1
    signals, orders = await sync_to_async(_rows)()
    assert [k for k, _ in signals] == [entry(0).key, entry(1).key]
    assert orders == [f"signal:{entry(0).key}"]
    assert (await asignal_execute(entry(2), context(place))).status == SignalStatus.ACCEPTED
    assert len(place.calls) == 2


def _terminate(pid: int) -> None:
    try:
        with db.connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        db.connection.close()


async def test_a_killed_order_connection_is_replaced_and_the_entry_made_once() -> None:
    """A Postgres restart (its backend killed): the led round trip fails before anything ran; the
    signal goes the slow way on a new connection and is made exactly once."""
    place = Place()
    await asignal_execute(entry(0), context(place))
    old = aorder._CONN.conn
    assert old is not None
    await asyncio.to_thread(_terminate, old.info.backend_pid)
    done = await asignal_execute(entry(1), context(place))
    assert done.status == SignalStatus.ACCEPTED and len(place.calls) == 2
    assert aorder._CONN.conn is not old
    signals, orders = await sync_to_async(_rows)()
    assert signals == [(entry(n).key, SignalStatus.ACCEPTED) for n in (0, 1)]
    assert orders == [f"signal:{entry(n).key}" for n in (0, 1)]


async def test_a_failure_while_deciding_rolls_back_and_marks_the_signal_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place = Place()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("sizing bug")

    monkeypatch.setattr(execution, "plan_order", broken)
    done = await asignal_execute(entry(), context(place))
    assert done.status == SignalStatus.FAILED and place.calls == []
    await _idle()
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.FAILED and "sizing bug" in row.risk_reasons[0]["message"]
    assert await sync_to_async(Order.objects.count)() == 0


async def test_an_entry_without_a_news_score_takes_the_path_apart(syncs: list[int]) -> None:
    """The score is looked up while the signal's row commits; the lock is never held across it.
    Two round trips: the signal's row, then the order's in one (`aorder._single`: on the snapshot
    read behind the previous order's COMMIT, unchanged since)."""
    from apps.strategy import feeds

    async def lookup(code: str) -> int | None:
        return 70

    place = Place()
    await asignal_execute(entry(0), context(place))
    syncs.clear()
    original = feeds.aget_news_score
    try:
        feeds.aget_news_score = lookup  # type: ignore[assignment]
        done = await asignal_execute(dataclasses.replace(entry(1), features={}), context(place))
    finally:
        feeds.aget_news_score = original  # type: ignore[assignment]
    assert done.status == SignalStatus.ACCEPTED and len(syncs) == 2
    order = await sync_to_async(Order.objects.get)(idempotency_key=f"signal:{entry(1).key}")
    assert order.news_score == 70


async def test_the_order_slot_is_taken_only_for_a_signal_that_makes_an_order() -> None:
    """The rate-limit slot (and the token) is taken once the intent is decided, during the second
    round trip: a gated entry or a duplicate never spends one (exits may need it)."""
    place = Place()
    slots: list[int] = []

    async def prepare() -> Any:
        slots.append(1)
        return place

    ctx = dataclasses.replace(context(place), prepare=prepare)
    assert (await asignal_execute(entry(0), ctx)).status == SignalStatus.ACCEPTED
    assert slots == [1] and len(place.calls) == 1
    assert (await asignal_execute(entry(0), ctx)).status == "duplicate"
    await sync_to_async(RuntimeFlag.objects.filter(key="trading-enabled").update)(enabled=False)
    assert (await asignal_execute(entry(1), ctx)).status == SignalStatus.GATED
    assert slots == [1] and len(place.calls) == 1
