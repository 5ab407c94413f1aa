"""The tuning trials' reaper (`tuning_services.trials_reap`, beat task `backtests.reap_trials`): a running trial
whose heartbeat is older than BACKTESTS_TRIAL_STALE_SECONDS lost its worker; it is marked failed naming the
worker and its run finishes, reporting it. Fresh trials, finished ones and a worker that comes back late are
left alone. (A real worker SIGKILLed mid-trial: `test_tuning_worker_kill.py`, slow.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from apps.backtests import tasks, tuning_services
from apps.backtests.models import TuningRun, TuningTrial
from apps.backtests.tuning_services import trial_execute, trials_reap

from .test_tuning_services import create
from .tuning_support import store_bars

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def stale(settings: Any) -> int:
    settings.BACKTESTS_TRIAL_STALE_SECONDS = 600
    return 600


def small_run() -> TuningRun:
    """Two parameter sets × one window: two trials."""
    return create(ranges={"fast": {"values": [3, 5]}}, in_sample_days=3, out_sample_days=1)


def mark_running(trial: TuningTrial, beat: dt.datetime | None, worker: str = "w1:4242") -> None:
    TuningTrial.objects.filter(pk=trial.pk).update(
        status="running", started_at=T0, heartbeat_at=beat, worker=worker
    )


def test_a_stale_running_trial_is_failed_and_its_run_finishes_reporting_it(stale: int) -> None:
    store_bars()
    run = small_run()
    first, second = run.trials.order_by("index")
    assert trial_execute(first.pk) == "done"
    mark_running(second, T0)
    # one second short of the limit: left alone
    assert trials_reap(now=T0 + dt.timedelta(seconds=stale - 1)) == []
    assert TuningTrial.objects.get(pk=second.pk).status == "running"
    assert TuningRun.objects.get(pk=run.pk).finished_at is None

    assert trials_reap(now=T0 + dt.timedelta(seconds=stale + 1)) == [second.pk]
    second.refresh_from_db()
    assert second.status == "failed" and second.finished_at is not None
    assert "worker lost" in second.error and "w1:4242" in second.error and "600" in second.error
    run.refresh_from_db()
    assert run.status == "done" and run.finished_at is not None  # chosen among the others
    assert run.best_params == first.params
    assert [f["index"] for f in run.result["failed_trials"]] == [second.index]
    assert "1 trials failed" in run.error and "worker lost" in run.error
    assert trials_reap(now=T0 + dt.timedelta(days=1)) == []  # nothing left to reap


def test_a_run_whose_only_running_trial_is_lost_fails(stale: int) -> None:
    run = small_run()
    first, second = run.trials.order_by("index")
    mark_running(first, None)  # claimed by a version without a heartbeat: its start counts
    mark_running(second, T0 + dt.timedelta(seconds=500))  # beat recently: alive
    assert trials_reap(now=T0 + dt.timedelta(seconds=stale + 1)) == [first.pk]
    run.refresh_from_db()
    assert run.finished_at is None  # the second is still running
    assert trials_reap(now=T0 + dt.timedelta(seconds=stale + 501)) == [second.pk]
    run.refresh_from_db()
    assert run.status == "failed" and "worker lost" in run.error
    assert len(run.result["failed_trials"]) == 2


def test_a_trial_beats_each_day_and_a_late_worker_does_not_undo_the_reaping(
    stale: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_bars()
    run = small_run()
    first, second = run.trials.order_by("index")
    assert trial_execute(first.pk) == "done"
    first.refresh_from_db()
    assert first.heartbeat_at is not None and first.heartbeat_at >= first.started_at

    real_run = tuning_services.run
    days_seen: list[int] = []

    def slow_worker(*args: Any, on_day: Any, **kw: Any) -> Any:
        def late(done: int, total: int) -> bool:
            days_seen.append(done)
            if done == 1:  # the worker stalls here longer than the limit; the reaper runs
                assert trials_reap(now=timezone.now() + dt.timedelta(seconds=stale + 1))
            return on_day(done, total)

        return real_run(*args, on_day=late, **kw)

    monkeypatch.setattr(tuning_services, "run", slow_worker)
    assert trial_execute(second.pk) == "failed"
    assert days_seen == [1]  # it stopped at its next day's check
    second.refresh_from_db()
    assert second.status == "failed" and "worker lost" in second.error
    assert second.is_metrics == {} and second.is_score is None  # its late result is not written
    run.refresh_from_db()
    assert run.status == "done" and run.best_params == first.params


def test_the_reaper_is_a_beat_task_on_the_default_queue(stale: int) -> None:
    from django_celery_beat.models import PeriodicTask

    from stockagent.celery import app

    row = PeriodicTask.objects.get(task="backtests.reap_trials")
    assert row.enabled and row.interval.every == 60 and row.queue == "default"
    assert app.amqp.router.route({}, "backtests.reap_trials")["queue"].name == "default"
    assert app.amqp.router.route({}, "backtests.tuning_trial")["queue"].name == "reports"
    run = small_run()
    mark_running(run.trials.first(), timezone.now() - dt.timedelta(seconds=stale + 5))
    assert tasks.reap_trials_task() == 1
