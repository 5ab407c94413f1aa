"""A real `-Q reports` worker (prefork, as `runstack` starts it) SIGKILLed in the middle of a tuning trial: the
trial stays `running` (its task was acked early; nothing re-delivers it), and the reaper marks it failed naming
the dead worker and finishes the run. The trial is held mid-way deterministically: the test holds a row lock
on the run, which the worker's trial updates right after claiming its own row.

And a worker SIGKILLed while it holds a fetched but unstarted trial of another run (Redis keeps that message
unacked until its visibility timeout, an hour): a new worker runs the rest of that run, the reaper (with a
short stale window) re-sends the stalled trial, and the run finishes with every trial done once. A worker
started as runstack starts the reports worker (`--disable-prefetch`) holds no such trial."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.backtests import tuning_services
from apps.backtests.models import TuningRun, TuningTrial
from apps.backtests.tasks import reap_trials_task
from apps.backtests.tuning_services import trials_reap
from apps.notifications.tests.fakes import wait_until
from stockagent.celery import app as celery_app

from .test_tuning_services import create
from .tuning_support import store_bars

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def reports_worker(log: Path, name: str = "btkill", *extra: str) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}"
            f":{db['PORT'] or 5432}/{db['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
    )
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-P", "prefork", "-c", "1",
         "-Q", "reports", "-l", "INFO", "-n", f"{name}-{os.getpid()}@%h", "--without-heartbeat",
         "--without-gossip", "--without-mingle", *extra],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a killed pool child may wait for a reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)


def hold_run_row(run_id: int, locked: threading.Event, release: threading.Event) -> None:
    try:
        with transaction.atomic():
            TuningRun.objects.select_for_update().get(pk=run_id)
            locked.set()
            release.wait(120)
    finally:
        connection.close()


def test_a_worker_killed_mid_trial_is_reaped_and_the_run_finishes(tmp_path: Path) -> None:
    store_bars()
    run = create(ranges={"fast": {"values": [5]}}, in_sample_days=3, out_sample_days=1)
    (trial,) = run.trials.all()
    celery_app.control.purge()
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_run_row, args=(run.pk, locked, release), daemon=True)
    holder.start()
    assert locked.wait(30)
    log = tmp_path / "worker.log"
    worker = reports_worker(log)
    try:
        tuning_services.dispatch(run.pk)
        claimed = wait_until(
            lambda: TuningTrial.objects.filter(pk=trial.pk, status="running").exists(), timeout=90
        )
        assert claimed, log.read_text(errors="replace")[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool child, mid-trial
        worker.wait(30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)
        release.set()
        holder.join(30)

    trial.refresh_from_db()
    assert trial.status == "running" and trial.heartbeat_at is not None  # left behind
    pid = int(trial.worker.rsplit(":", 1)[1])
    status = Path(f"/proc/{pid}/status")
    assert not alive(pid), status.read_text()[:300]  # the worker it names is gone
    # The beat task would find it once BACKTESTS_TRIAL_STALE_SECONDS have passed; the test moves `now` there.
    later = timezone.now() + dt.timedelta(seconds=settings.BACKTESTS_TRIAL_STALE_SECONDS + 1)
    assert trials_reap(now=later) == [trial.pk]
    trial.refresh_from_db()
    assert trial.status == "failed" and f"worker {trial.worker}" in trial.error
    run.refresh_from_db()
    assert run.finished_at is not None and run.status == "failed"  # its only trial was lost
    assert "worker lost" in run.error and run.result["failed_trials"][0]["index"] == trial.index


def received(log: Path) -> int:
    """The trial tasks a worker has fetched (started or only reserved), from its log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(
        1 for line in text.splitlines() if "backtests.tuning_trial[" in line and "received" in line
    )


def unacked() -> str:
    """The messages Redis holds for the workers that fetched them (not acked yet), as text."""
    import redis

    held = redis.Redis.from_url(settings.REDIS_URL).hvals(f"{settings.REDIS_KEY_PREFIX}unacked")
    return "\n".join(v.decode(errors="replace") for v in held)


def forget_unacked() -> None:
    """Drop the dead worker's unacked messages (else Redis would deliver them in an hour, to another test)."""
    import redis

    prefix = settings.REDIS_KEY_PREFIX
    redis.Redis.from_url(settings.REDIS_URL).delete(f"{prefix}unacked", f"{prefix}unacked_index")


def test_a_trial_a_killed_worker_fetched_but_never_started_is_re_sent_and_its_run_finishes(
    tmp_path: Path, settings: Any
) -> None:
    store_bars()
    blocker = create(ranges={"fast": {"values": [5]}}, in_sample_days=3, out_sample_days=1)
    run = create(ranges={"fast": {"values": [3, 4, 5]}}, in_sample_days=3, out_sample_days=1)
    first, second, third = run.trials.order_by("index")
    celery_app.control.purge()
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_run_row, args=(blocker.pk, locked, release), daemon=True)
    holder.start()
    assert locked.wait(30)
    log1, log2 = tmp_path / "worker1.log", tmp_path / "worker2.log"
    worker = reports_worker(log1, "btfetch")
    worker2 = None
    try:
        tuning_services.dispatch(blocker.pk)  # its one trial holds the worker's one process
        assert wait_until(
            lambda: TuningTrial.objects.filter(run=blocker, status="running").exists(), timeout=90
        ), log1.read_text(errors="replace")[-3000:]
        tuning_services.dispatch(run.pk)
        # The busy worker fetches the run's first trial (its prefetch) and leaves the others in Redis.
        assert wait_until(lambda: received(log1) == 2, timeout=60), log1.read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
        release.set()  # the reaper will finish the blocker's run: its row must be free
        holder.join(30)
        assert set(run.trials.values_list("status", flat=True)) == {"queued"}
        assert f"({first.pk},)" in unacked()  # the dead worker's fetched message, held by Redis

        worker2 = reports_worker(log2, "btfetch2")
        # The new worker runs what is still in the queue; the fetched trial stays queued (unacked in Redis).
        assert wait_until(lambda: run.trials.filter(status="done").count() == 2, timeout=90), (
            log2.read_text(errors="replace")[-3000:]
        )
        assert set(run.trials.filter(status="done")) == {second, third}
        first.refresh_from_db()
        assert first.status == "queued"
        assert TuningRun.objects.get(pk=run.pk).finished_at is None

        # The beat task, with a short stale window: the blocker's lost trial is failed, the run re-sent.
        settings.BACKTESTS_TRIAL_STALE_SECONDS = 2

        def finished() -> bool:
            reap_trials_task()
            return TuningRun.objects.get(pk=run.pk).finished_at is not None

        assert wait_until(finished, timeout=90, every=0.5), log2.read_text(errors="replace")[-3000:]
    finally:
        stop(worker)
        if worker2 is not None:
            stop(worker2)
        release.set()
        holder.join(30)
        celery_app.control.purge()
        forget_unacked()

    run.refresh_from_db()
    assert run.status == "done" and run.error == "" and run.resends >= 1
    trials = list(run.trials.order_by("index"))
    assert [t.status for t in trials] == ["done", "done", "done"]
    assert all(t.is_score is not None and t.finished_at is not None for t in trials)
    # every trial run by the new worker's process, none by the dead one (which never started its fetched one)
    (lost,) = blocker.trials.all()
    assert len({t.worker for t in trials}) == 1 and trials[0].worker != lost.worker
    assert received(log2) >= 3  # the two left in the queue and the re-sent one (duplicates: no-ops)
    blocker.refresh_from_db()
    assert blocker.status == "failed" and "worker lost" in blocker.error


def test_a_busy_worker_without_prefetch_holds_no_trial_it_has_not_started(tmp_path: Path) -> None:
    """The reports worker as runstack and docker-compose start it (`--disable-prefetch`): busy with one trial,
    it leaves the next ones in the queue, where another worker takes them all; killed, it loses none."""
    store_bars()
    blocker = create(ranges={"fast": {"values": [5]}}, in_sample_days=3, out_sample_days=1)
    run = create(ranges={"fast": {"values": [3, 4, 5]}}, in_sample_days=3, out_sample_days=1)
    celery_app.control.purge()
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_run_row, args=(blocker.pk, locked, release), daemon=True)
    holder.start()
    assert locked.wait(30)
    log1, log2 = tmp_path / "worker1.log", tmp_path / "worker2.log"
    worker = reports_worker(log1, "btnopf", "--disable-prefetch")
    worker2 = None
    try:
        tuning_services.dispatch(blocker.pk)
        assert wait_until(
            lambda: TuningTrial.objects.filter(run=blocker, status="running").exists(), timeout=90
        ), log1.read_text(errors="replace")[-3000:]
        tuning_services.dispatch(run.pk)
        worker2 = reports_worker(log2, "btnopf2")
        # every trial of the run reaches the second worker: the busy one fetched none of them
        assert wait_until(lambda: run.trials.filter(status="done").count() == 3, timeout=90), (
            log2.read_text(errors="replace")[-3000:]
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        stop(worker)
        if worker2 is not None:
            stop(worker2)
        release.set()
        holder.join(30)
        celery_app.control.purge()
        forget_unacked()
    assert received(log1) == 1  # only the trial it was running
    run.refresh_from_db()
    assert run.status == "done" and run.finished_at is not None and run.resends == 0
