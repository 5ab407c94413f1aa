"""The 30-second check task: only in KRX sessions (frozen time), never overlapping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings

from apps.broker.backends import get_broker, reset_broker
from apps.broker.backends.memory import MemoryBroker
from apps.conditions import tasks
from apps.conditions.models import ConditionRun
from apps.conditions.tests.factories import ConditionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory_broker(settings) -> Iterator[MemoryBroker]:
    settings.BROKER_BACKEND = "memory"
    settings.KIWOOM_USE_SIMULATOR = False  # the exchange clock is the (frozen) wall clock
    reset_broker()
    broker = get_broker()
    assert isinstance(broker, MemoryBroker)
    broker.add_condition("1", "급등주", ["005930", "000660"])
    ConditionFactory(seq="1", name="급등주")
    yield broker
    reset_broker()


def searches(broker: MemoryBroker) -> int:
    return sum(1 for name, _ in broker.calls if name == "condition_search")


@pytest.mark.parametrize(
    "moment",
    [
        "2025-10-03 10:00:00+09:00",  # 개천절 (a Friday): KRX holiday
        "2025-01-28 10:00:00+09:00",  # 설날 연휴
        "2025-02-08 10:00:00+09:00",  # Saturday
        "2025-02-04 15:30:00+09:00",  # the close: the closing auction has ended
        "2025-02-04 17:00:00+09:00",  # after hours
        "2025-02-04 08:59:59+09:00",  # before the open
        "2025-11-13 09:30:00+09:00",  # 수능: the market opens at 10:00
    ],
)
def test_nothing_runs_outside_sessions(memory_broker, time_machine, moment) -> None:
    time_machine.move_to(moment, tick=False)
    assert tasks.check_conditions() == {"skipped": "market closed"}
    assert searches(memory_broker) == 0 and ConditionRun.objects.count() == 0


@pytest.mark.parametrize(
    "moment",
    ["2025-02-04 09:00:00+09:00", "2025-02-04 15:25:00+09:00", "2025-11-13 10:00:00+09:00"],
)
def test_runs_in_session(memory_broker, time_machine, moment) -> None:
    time_machine.move_to(moment, tick=False)
    result = tasks.check_conditions()
    assert result["checked"] == 1 and searches(memory_broker) == 1


def test_single_flight(memory_broker, time_machine) -> None:
    time_machine.move_to("2025-02-04 10:00:00+09:00", tick=False)
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    held = client.lock(tasks.LOCK_KEY, timeout=60)
    assert held.acquire(blocking=False)
    try:
        assert tasks.check_conditions() == {"skipped": "previous cycle still running"}
        assert searches(memory_broker) == 0
    finally:
        held.release()
    assert tasks.check_conditions()["checked"] == 1
    # The lock is released after a cycle, also after a failing one.
    assert client.get(tasks.LOCK_KEY) is None


def test_schedule_is_a_beat_row() -> None:
    from django_celery_beat.models import PeriodicTask

    row = PeriodicTask.objects.get(task="conditions.check")
    assert row.enabled and row.interval.every == 30 and row.interval.period == "seconds"
