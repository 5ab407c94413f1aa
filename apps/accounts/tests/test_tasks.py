"""The balance sync task: in sessions (and once before the open) when scheduled, always after fills,
never overlapping."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings

from apps.accounts import services, tasks
from apps.accounts.models import BalanceSnapshot
from apps.accounts.tests.factories import BrokerAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_recent_sync(monkeypatch) -> None:
    # balance_sync_soon skips Redis for a second after this process queued a sync; tests start afresh.
    monkeypatch.setattr(services, "_sync_queued_at", float("-inf"))


@pytest.mark.parametrize(
    "moment",
    ["2025-10-03 10:00:00+09:00", "2025-02-08 10:00:00+09:00", "2025-02-04 17:00:00+09:00"],
)
def test_schedule_skips_outside_sessions(memory_broker, time_machine, moment) -> None:
    BrokerAccountFactory(is_active=True)
    time_machine.move_to(moment, tick=False)
    assert tasks.sync_balance() == {"skipped": "market closed"}
    assert not BalanceSnapshot.objects.exists()


def test_schedule_runs_once_before_the_open_of_a_trading_day(memory_broker, time_machine) -> None:
    """The risk engine's opening equity needs a snapshot of the day before the first entry."""
    BrokerAccountFactory(is_active=True)
    time_machine.move_to("2025-02-04 08:30:00+09:00", tick=False)
    assert "snapshot" in tasks.sync_balance()
    assert tasks.sync_balance() == {"skipped": "market closed"}  # the day has its snapshot
    assert BalanceSnapshot.objects.count() == 1


def test_schedule_runs_in_session(memory_broker, time_machine) -> None:
    BrokerAccountFactory(is_active=True)
    time_machine.move_to("2025-02-04 10:00:00+09:00", tick=False)
    assert "snapshot" in tasks.sync_balance()
    assert BalanceSnapshot.objects.get().source == "schedule"


def test_after_fill_runs_any_time(memory_broker, time_machine) -> None:
    BrokerAccountFactory(is_active=True)
    time_machine.move_to("2025-02-04 17:00:00+09:00", tick=False)
    assert "snapshot" in tasks.sync_balance(source="fill")


def test_single_flight(memory_broker, time_machine, monkeypatch) -> None:
    BrokerAccountFactory(is_active=True)
    time_machine.move_to("2025-02-04 10:00:00+09:00", tick=False)
    requeued = []
    monkeypatch.setattr(tasks.sync_balance, "apply_async", lambda **kw: requeued.append(kw))
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    held = client.lock(tasks.LOCK_KEY, timeout=60)
    assert held.acquire(blocking=False)
    try:
        assert tasks.sync_balance() == {"skipped": "a sync is running"}
        assert tasks.sync_balance(source="fill") == {"skipped": "a sync is running"}
    finally:
        held.release()
    assert len(requeued) == 1  # only the after-fill sync looks again
    assert not BalanceSnapshot.objects.exists()


def test_burst_of_fills_queues_one_sync(monkeypatch, django_capture_on_commit_callbacks) -> None:
    queued = []
    monkeypatch.setattr(tasks.sync_balance, "apply_async", lambda **kw: queued.append(kw))
    redis.Redis.from_url(django_settings.REDIS_URL).delete(services.SYNC_PENDING_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            services.balance_sync_soon()
    assert len(queued) == 1 and queued[0]["kwargs"] == {"source": "fill"}
    redis.Redis.from_url(django_settings.REDIS_URL).delete(services.SYNC_PENDING_KEY)


def test_schedule_is_a_beat_row() -> None:
    from django_celery_beat.models import PeriodicTask

    row = PeriodicTask.objects.get(task="accounts.sync_balance")
    assert row.enabled and row.interval.every == 60


def test_a_fill_queues_a_balance_sync(monkeypatch, django_capture_on_commit_callbacks) -> None:
    from apps.trades.tests.ui_factories import FillFactory

    queued = []
    monkeypatch.setattr(tasks.sync_balance, "apply_async", lambda **kw: queued.append(kw))
    redis.Redis.from_url(django_settings.REDIS_URL).delete(services.SYNC_PENDING_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        FillFactory()
    assert queued == [{"kwargs": {"source": "fill"}, "countdown": 1.0}]
    redis.Redis.from_url(django_settings.REDIS_URL).delete(services.SYNC_PENDING_KEY)


def test_a_starting_worker_syncs_once_due_and_retries_while_the_broker_is_not_there(
    memory_broker, time_machine, monkeypatch, settings
) -> None:
    """The pre-open snapshot must not wait for the beat's next wall minute (at speed 60 the whole
    pre-open is 30 wall seconds): a worker's start queues a sync, which tries again every 2 s while
    the broker (or the simulator's clock) does not answer."""
    from apps.broker.contract import BrokerUnavailable

    BrokerAccountFactory(is_active=True)
    time_machine.move_to("2025-02-04 08:50:00+09:00", tick=False)
    queued: list[dict] = []
    monkeypatch.setattr(tasks.sync_balance, "apply_async", lambda **kw: queued.append(kw))
    tasks._sync_at_start()
    assert queued == []  # off in the tests' settings (their workers)
    settings.ACCOUNTS_SYNC_AT_START = True
    tasks._sync_at_start()
    assert queued == [{"kwargs": {"source": "schedule", "retries_left": tasks.STARTUP_RETRIES}}]

    memory_broker.fail_next(BrokerUnavailable("starting"))
    assert tasks.sync_balance(retries_left=3) == {"error": "BrokerUnavailable"}
    assert queued[-1] == {"kwargs": {"source": "schedule", "retries_left": 2}, "countdown": 2.0}

    class Silent:
        def known_reading(self) -> None:
            return None

    monkeypatch.setattr(tasks, "exchange_clock", Silent)
    assert tasks.sync_balance(retries_left=2) == {"skipped": "exchange clock unavailable"}
    assert queued[-1]["kwargs"]["retries_left"] == 1
    monkeypatch.undo()
    monkeypatch.setattr(tasks.sync_balance, "apply_async", lambda **kw: queued.append(kw))
    monkeypatch.setattr(services, "_sync_queued_at", float("-inf"))
    assert "snapshot" in tasks.sync_balance(retries_left=1)
    n = len(queued)
    memory_broker.fail_next(BrokerUnavailable("down"))
    assert tasks.sync_balance(source="fill") == {"error": "BrokerUnavailable"}
    assert len(queued) == n  # no retries unless asked
