"""The realtime handler applies a condition's frames in the order they came, although an entry's batch
waits for a quote and a later exits-only batch does not (a chaos run at 30x recorded an exit before the
entry it follows, and lost the exit in between)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from django.db import connections

from apps.broker.backends.memory import MemoryBroker
from apps.conditions import services
from apps.conditions.models import ConditionEvent
from apps.conditions.realtime_handlers import ConditionsHandler
from apps.conditions.services import RealtimeChange
from apps.conditions.tests.factories import ConditionFactory
from apps.realtime.handlers import HubContext, db_call
from krx import KST

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2025, 1, 15, 9, 13, 30, tzinfo=KST)


def test_a_batch_waiting_for_a_quote_is_not_overtaken_by_a_later_one() -> None:
    cond = ConditionFactory(seq="1")
    services.snapshot_apply(
        cond.pk, [], source="poll", observed_at=T0, at=T0 - timedelta(minutes=5)
    )
    services.realtime_apply(cond.pk, [RealtimeChange(code="066570", entered=True, at=T0)])
    handler = ConditionsHandler(HubContext(MemoryBroker(), options={"account": cond.account}))
    handler._ids = {"1": cond.pk}

    async def slow_quotes(changes: list[RealtimeChange]) -> list[RealtimeChange]:
        if any(c.entered for c in changes):
            await asyncio.sleep(0.5)  # an entry's quote: a REST request, maybe throttled
        return changes

    handler._with_quotes = slow_quotes  # type: ignore[method-assign]
    at = [T0 + timedelta(seconds=s) for s in (10, 20, 30)]

    async def frames() -> None:
        handler._pending["1"] = [
            RealtimeChange(code="066570", entered=False, at=at[0]),
            RealtimeChange(code="066570", entered=True, at=at[1]),
        ]
        handler._spawn_flush("1")  # waits for the entry's quote
        await asyncio.sleep(0.1)
        handler._pending["1"] = [RealtimeChange(code="066570", entered=False, at=at[2])]
        handler._spawn_flush("1")  # exits only: no quote, ready first
        await asyncio.wait(set(handler._tasks), timeout=10)
        await db_call(connections.close_all)  # the database thread's connection

    asyncio.run(frames())
    events = list(
        ConditionEvent.objects.filter(condition=cond).order_by("id").values_list("kind", "at")
    )
    assert events == [("entry", T0), ("exit", at[0]), ("entry", at[1]), ("exit", at[2])]
