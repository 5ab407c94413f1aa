"""The reaper's re-send of a stalled run's queued trials (`tuning_services.runs_resend`, run by the beat task
`backtests.reap_trials` after the reaping): a run with queued trials and no trial progress for the stale window
gets their `backtests.tuning_trial` tasks sent again — at most once per window —, fresh, progressing, finished
and cancelled runs are left alone, and a duplicate delivery of a running or finished trial writes nothing.
(Real processes: `test_tuning_worker_kill.py`, slow.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from apps.backtests import tasks, tuning_services
from apps.backtests.models import TuningRun, TuningTrial
from apps.backtests.tuning_services import runs_resend, trial_execute, tuning_cancel

from .test_tuning_services import create
from .tuning_support import store_bars

pytestmark = pytest.mark.django_db

STALE = 600


@pytest.fixture(autouse=True)
def stale(settings: Any) -> int:
    settings.BACKTESTS_TRIAL_STALE_SECONDS = STALE
    return STALE


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The trial tasks the reaper sends (recorded, not sent)."""
    out: list[int] = []
    monkeypatch.setattr(tuning_services, "_send_trial", out.append)
    return out


def three_trials(created: dt.datetime) -> TuningRun:
    run = create(ranges={"fast": {"values": [3, 4, 5]}}, in_sample_days=3, out_sample_days=1)
    TuningRun.objects.filter(pk=run.pk).update(created_at=created)
    return run


def rows(run: TuningRun) -> dict[int, tuple[Any, ...]]:
    return {
        t.pk: (t.status, t.started_at, t.heartbeat_at, t.finished_at, t.worker, t.is_score, t.bars)
        for t in TuningTrial.objects.filter(run=run)
    }


def test_a_run_with_queued_trials_and_no_progress_is_re_sent_once_per_window(
    sent: list[int],
) -> None:
    t0 = timezone.now()
    run = three_trials(t0)
    first, second, third = run.trials.order_by("index")
    # the first trial finished at t0 (its worker's last heartbeat); the others were fetched by a killed worker
    TuningTrial.objects.filter(pk=first.pk).update(
        status="done", started_at=t0, heartbeat_at=t0, finished_at=t0
    )
    assert runs_resend(now=t0 + dt.timedelta(seconds=STALE - 1)) == {}  # not yet
    assert sent == []

    later = t0 + dt.timedelta(seconds=STALE + 1)
    assert runs_resend(now=later) == {run.pk: [second.pk, third.pk]}
    assert sent == [second.pk, third.pk]  # same argument as the dispatch: the trial's id
    run.refresh_from_db()
    assert run.resent_at == later and run.resends == 1 and run.finished_at is None
    # bounded: not again within the window after the re-send
    assert runs_resend(now=later) == {}
    assert runs_resend(now=later + dt.timedelta(seconds=STALE - 1)) == {}
    assert sent == [second.pk, third.pk]
    # still nothing a window later (the re-sent tasks wait behind other runs' long trials): once more
    again = later + dt.timedelta(seconds=STALE + 1)
    assert runs_resend(now=again) == {run.pk: [second.pk, third.pk]}
    assert TuningRun.objects.get(pk=run.pk).resends == 2
    # and at most BACKTESTS_TRIAL_MAX_RESENDS in all (no worker serving the queue: copies would pile up)
    third_time = again + dt.timedelta(seconds=STALE + 1)
    assert list(runs_resend(now=third_time)) == [run.pk]
    assert runs_resend(now=third_time + dt.timedelta(seconds=STALE + 1)) == {}
    assert TuningRun.objects.get(pk=run.pk).resends == tuning_services.MAX_RESENDS == 3
    assert len(sent) == 2 * 3


def test_fresh_progressing_finished_and_cancelled_runs_are_left_alone(sent: list[int]) -> None:
    t0 = timezone.now()
    later = t0 + dt.timedelta(seconds=STALE + 1)
    young = three_trials(later - dt.timedelta(seconds=10))  # created within the window: just queued
    busy = three_trials(t0)  # a trial running alive (beat within the window)
    TuningTrial.objects.filter(pk=busy.trials.order_by("index")[0].pk).update(
        status="running", started_at=t0, heartbeat_at=later - dt.timedelta(seconds=5)
    )
    moving = three_trials(t0)  # a trial finished within the window: the run moves
    TuningTrial.objects.filter(pk=moving.trials.order_by("index")[0].pk).update(
        status="done",
        started_at=t0,
        heartbeat_at=later - dt.timedelta(seconds=5),
        finished_at=later,
    )
    cancelled = three_trials(t0)
    tuning_cancel(cancelled.pk)
    finished = three_trials(t0)
    TuningRun.objects.filter(pk=finished.pk).update(status="done", finished_at=t0)
    assert runs_resend(now=later) == {}
    assert sent == []
    assert TuningRun.objects.filter(resends__gt=0).count() == 0
    # a whole window later without progress, the three unfinished ones have stalled in their turn
    stalled = runs_resend(now=later + dt.timedelta(seconds=STALE))
    assert sorted(stalled) == [young.pk, busy.pk, moving.pk]
    assert len(stalled[young.pk]) == 3 and len(stalled[busy.pk]) == len(stalled[moving.pk]) == 2


def test_a_duplicate_delivery_of_a_running_or_finished_trial_writes_nothing() -> None:
    store_bars()
    run = create(ranges={"fast": {"values": [3, 5]}}, in_sample_days=3, out_sample_days=1)
    first, second = run.trials.order_by("index")
    assert trial_execute(first.pk) == "done"
    TuningTrial.objects.filter(pk=second.pk).update(
        status="running", started_at=timezone.now(), heartbeat_at=timezone.now(), worker="w2:7"
    )
    before, run_before = rows(run), TuningRun.objects.filter(pk=run.pk).values().get()
    assert trial_execute(first.pk) == "done"  # a second delivery of a finished trial
    assert trial_execute(second.pk) == "running"  # ... and of one another worker is running
    assert rows(run) == before
    assert TuningRun.objects.filter(pk=run.pk).values().get() == run_before  # not finished by them


def test_the_re_sent_trials_finish_the_run_exactly_once(
    sent: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store_bars()
    t0 = timezone.now() - dt.timedelta(seconds=STALE + 5)
    run = three_trials(t0)
    first, second, third = run.trials.order_by("index")
    assert trial_execute(first.pk) == "done"
    TuningTrial.objects.filter(pk=first.pk).update(heartbeat_at=t0, started_at=t0)
    finishes: list[bool] = []
    real_finish = tuning_services.tuning_finish
    monkeypatch.setattr(
        tuning_services,
        "tuning_finish",
        lambda pk: finishes.append(real_finish(pk)) or finishes[-1],
    )
    assert tasks.reap_trials_task() == 0  # nothing reaped; the run re-sent
    assert sent == [second.pk, third.pk]
    for pk in sent + sent:  # the re-sent tasks, then the original deliveries arriving late
        trial_execute(pk)
    run.refresh_from_db()
    assert run.status == "done" and run.finished_at is not None and run.error == ""
    assert finishes.count(True) == 1  # aggregated once, by the last trial
    assert real_finish(run.pk) is False  # the chord body, if it ever runs, writes nothing
    assert set(run.trials.values_list("status", flat=True)) == {"done"}
