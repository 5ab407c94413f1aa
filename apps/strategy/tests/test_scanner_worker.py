"""The whole schedule with real processes: the simulator (thread) at speed 60 (a minute per wall second),
a real Celery worker on the `market` queue reading the simulator's clock, and the beat entry's tick sent
every 5 wall seconds (five simulated minutes) as beat would: every simulated minute of the window gets
one scan (the ticks queue themselves per minute), never two."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.conditions.tests.live_support import at, simulated_broker, wait_until
from apps.strategy.scanner_models import ScanSnapshot
from apps.strategy.tasks import scan_tick
from krx import KST
from stockagent.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _env(sim, tmp_path: Path) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}"
            f":{db['PORT'] or 5432}/{db['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
        KIWOOM_SIM_PORT=str(sim.port),
        KIWOOM_ACCOUNT=sim.account,
        STOCKAGENT_VAR_DIR=str(tmp_path),
    )
    env.pop("TEST_DATABASE_NAME", None)
    return env


def test_a_real_worker_scans_every_simulated_minute_once(tmp_path: Path) -> None:
    celery_app.control.purge()  # nothing stale from an earlier run reaches the worker
    with simulated_broker(tmp_path, start=at("08:53:00"), key_prefix="test-scanner-worker") as (
        sim,
        _,
    ):
        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-P", "threads",
                "-c", "2", "-Q", "market", "-l", "INFO", "-n", f"scantest-{os.getpid()}@%h",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
            ],
            cwd=settings.BASE_DIR, env=_env(sim, tmp_path), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_until(lambda: b" ready." in (tmp_path / "worker.log").read_bytes(), timeout=120)
            # Before the window, with the clock still frozen: the beat ticks of a worker started long
            # before the open (its first task loads the calendar and the broker client: seconds).
            for _ in range(2):
                scan_tick.apply_async()
            wait_until(
                lambda: (
                    (tmp_path / "worker.log").read_bytes().count(b"outside the scan window") >= 2
                ),
                timeout=120,
            )
            # The worker's clock keeps a reading for 5 s (`SimulatorClock`): its frozen one must lapse
            # before 09:00, so the simulator starts early enough (7 s at speed 60).
            sim.call(lambda: sim.server.clock.set_speed(60.0))
            # The beat entry: a tick every 5 wall seconds until the simulator passes 09:20.
            while sim.now() < at("09:20:00"):
                scan_tick.apply_async()
                time.sleep(5)
            end = sim.now()
            wait_until(
                lambda: ScanSnapshot.objects.filter(slot__gte=at("09:18:00")).exists(), timeout=60
            )
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
            log.close()
    slots = [s.astimezone(KST) for s in ScanSnapshot.objects.values_list("slot", flat=True)]
    minutes = sorted(s.strftime("%H:%M") for s in slots)
    text = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert minutes, text
    assert len(minutes) == len(set(minutes)), minutes  # never twice
    assert minutes[0] == "09:00" and all(s.second == 0 for s in slots)
    expected = [(at("09:00:00") + dt.timedelta(minutes=i)).strftime("%H:%M") for i in range(19)]
    missed = sorted(set(expected) - set(minutes))
    print(f"scanned {len(minutes)} minutes 09:00–{minutes[-1]} by {end:%H:%M:%S}; missed {missed}")
    # A tick that starts more than a simulated minute late (a loaded machine) serves the next minute:
    # its own is skipped, never scanned twice. On a quiet machine none is missed.
    assert len(missed) <= 3, (missed, text)
    assert ScanSnapshot.objects.filter(error="").count() == len(minutes)
