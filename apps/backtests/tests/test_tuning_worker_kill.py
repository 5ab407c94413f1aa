"""A real `-Q reports` worker (prefork, as `runstack` starts it) SIGKILLed in the middle of a tuning trial: the
trial stays `running` (its task was acked early; nothing re-delivers it), and the reaper marks it failed naming
the dead worker and finishes the run. The trial is held mid-way deterministically: the test holds a row lock
on the run, which the worker's trial updates right after claiming its own row."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.backtests import tuning_services
from apps.backtests.models import TuningRun, TuningTrial
from apps.backtests.tuning_services import trials_reap
from apps.notifications.tests.fakes import wait_until
from stockagent.celery import app as celery_app

from .test_tuning_services import create
from .tuning_support import store_bars

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def reports_worker(log: Path) -> subprocess.Popen[bytes]:
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
         "-Q", "reports", "-l", "INFO", "-n", f"btkill-{os.getpid()}@%h", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
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
