"""`aorder_create_led` / `aorder_submit_led`: a caller's statement in its own transaction, sent with the
order transaction's first round trip; the intent decided from its row. The lead stays committed whatever
the decision; a lead that fails leaves nothing of the order and says so (`LeadFailed`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async

from apps.core.models import RuntimeFlag
from apps.trades.models import Order, OrderStatus
from apps.trades.services import aorder
from apps.trades.services.aorder import (
    LeadFailed,
    aorder_create_led,
    aorder_db_close,
    aorder_submit_led,
)

from .test_aorder_slot import Broker, intent

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "led:1"


@pytest.fixture(autouse=True)
async def _close_order_thread() -> Any:
    yield
    await aorder_db_close()


@pytest.fixture(autouse=True)
def _planning_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """The led path's precondition (`order_plan_ready`: its caller checks it): planned on the loop."""
    import time

    from apps.trades.services import executor

    monkeypatch.setitem(executor._MARKETS, "005930", (time.monotonic(), ("KOSPI", "삼성전자")))


def _lead(n: int) -> tuple[str, list[Any]]:
    """A statement that writes a row of its own (a runtime flag `led-<n>`) and returns `n`."""
    return (
        "INSERT INTO core_runtimeflag (key, enabled, description, updated_at) "
        "VALUES ('led-' || %s::integer, false, '', now()) RETURNING %s::integer",
        [n, n],
    )


def _marked() -> list[int]:
    keys = RuntimeFlag.objects.filter(key__startswith="led-").values_list("key", flat=True)
    return sorted(int(k.removeprefix("led-")) for k in keys)


def keyed(key: str = KEY) -> Any:
    return dataclasses.replace(intent(), idempotency_key=key)


async def _idle() -> None:
    await aorder._CONN.settle()  # the last order's snapshot, sent behind its COMMIT
    pipe = aorder._CONN.pipe
    assert pipe is None or pipe.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_the_lead_and_the_order_commit_and_the_row_decides() -> None:
    rows: list[Any] = []

    def decide(row: Any) -> Any:
        rows.append(row)
        return keyed()

    made = await aorder_create_led(_lead(1), decide, account="A1", idempotency_key=KEY)
    assert made is not None and made[1] and rows == [(1,)]
    assert made[0].status == OrderStatus.SUBMITTED
    assert await sync_to_async(_marked)() == [1]
    assert await sync_to_async(Order.objects.filter(idempotency_key=KEY).count)() == 1
    await _idle()


async def test_no_intent_rolls_the_order_back_and_keeps_the_lead() -> None:
    made = await aorder_create_led(_lead(2), lambda row: None, account="A1", idempotency_key=KEY)
    assert made is None
    assert await sync_to_async(_marked)() == [2]
    assert not await sync_to_async(Order.objects.exists)()
    await _idle()


async def test_an_intent_of_another_key_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValueError, match="locked"):
        await aorder_create_led(
            _lead(3), lambda row: keyed("other"), account="A1", idempotency_key=KEY
        )
    assert not await sync_to_async(Order.objects.exists)()
    await _idle()


async def test_a_lead_that_fails_says_so_and_leaves_nothing() -> None:
    """The lead's own statement fails with an operational error (here: cancelled by its statement
    timeout): nothing after it ran, so nothing of the order; `LeadFailed` lets the caller decide
    again; the connection is replaced and the next order goes through."""
    decided: list[Any] = []
    slow = ("SELECT pg_sleep(1), %s::integer", [4])
    with pytest.MonkeyPatch.context() as patch:
        controls = (*aorder._LEAD_CONTROLS, "SET LOCAL statement_timeout = '20ms'")
        patch.setattr(aorder, "_LEAD_CONTROLS", controls)
        with pytest.raises(LeadFailed):
            await aorder_create_led(slow, decided.append, account="A1", idempotency_key=KEY)
    assert decided == [] and not await sync_to_async(Order.objects.exists)()
    made = await aorder_create_led(_lead(5), lambda row: keyed(), account="A1", idempotency_key=KEY)
    assert made is not None and made[1]


async def test_the_slot_is_taken_only_for_an_intent() -> None:
    broker = Broker()
    none = await aorder_submit_led(
        _lead(6), lambda row: None, broker.place, account="A1", idempotency_key=KEY,
        prepare=broker.prepare,
    )  # fmt: skip
    assert none is None and broker.slots == 0 and broker.sent == []
    order = await aorder_submit_led(
        _lead(7), lambda row: keyed(), broker.place, account="A1", idempotency_key=KEY,
        prepare=broker.prepare,
    )  # fmt: skip
    assert order is not None and order.status == OrderStatus.ACCEPTED
    assert broker.slots == 1 and len(broker.sent) == 1
    assert broker.seen_at_send == [[OrderStatus.SUBMITTED]]  # committed before the call
