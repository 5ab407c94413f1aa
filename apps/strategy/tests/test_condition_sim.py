"""The condition-entry strategy on a simulator condition: the simulator (over sockets) puts stocks into
an HTS condition, the conditions app records the entries, and the engine buys each chosen one once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.conditions import tasks
from apps.conditions.models import ConditionEvent as ConditionRow
from apps.conditions.tests.factories import ConditionFactory
from apps.conditions.tests.live_support import at, simulated_broker
from apps.strategy.engine.events import ConditionEvent
from stockagent.celery import app as celery_app

from .engine_support import engine, run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def eager() -> Iterator[None]:
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


def _events() -> list[ConditionEvent]:
    rows = ConditionRow.objects.select_related("condition").order_by("at", "id")
    return [
        ConditionEvent(
            code=row.code,
            at=row.at,
            condition_seq=row.condition.seq,
            condition_name=row.condition.name,
            entered=row.kind == "entry",
            price=row.price,
            event_id=row.pk,
        )
        for row in rows
    ]


def test_condition_entries_from_the_simulator_become_buys(tmp_path, eager) -> None:
    with simulated_broker(tmp_path) as (sim, _broker):
        ConditionFactory(account=sim.account, seq="0", name="6분 경과 전종목")
        ConditionFactory(account=sim.account, seq="1", name="대형주 6분 경과")
        tasks.check_conditions()  # the baseline at 09:00:30
        sim.advance_to_sync(at("09:06:15"))
        tasks.check_conditions()
        events = _events()
    large = {e.code for e in events if e.condition_seq == "1" and e.entered}
    everyone = {e.code for e in events if e.condition_seq == "0" and e.entered}
    assert large and everyone > large

    signals = run(engine(condition_entry={"condition_seqs": ["1"]}), events)
    assert {s.code for s in signals} == large  # only the chosen condition
    assert all(s.side == "buy" and s.features["condition_seq"] == "1" for s in signals)
    assert len({s.key for s in signals}) == len(signals)  # one per code
    assert all(s.price and s.features["condition_event_id"] for s in signals)

    both = run(engine(condition_entry={"condition_seqs": ["0", "1"]}), events)
    assert {s.code for s in both} == everyone and len(both) == len(everyone)

    # a news filter without news fails closed
    assert (
        run(engine(condition_entry={"condition_seqs": ["1"], "news_threshold": 50}), events) == []
    )
