"""A task round-trip through a real Celery worker process and the real Redis broker/result backend."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from apps.core.tasks import echo

pytestmark = pytest.mark.slow
ROOT = Path(settings.BASE_DIR)


# A queue of this test's own: the suite's other tests leave real tasks on the shared queues (balance
# syncs queued after fills, with a countdown), and a worker on `default` would run those first, against
# a database it was not pointed at, and the echo could wait behind them past its timeout (CI run 20).
QUEUE = f"roundtrip-{os.getpid()}"


@pytest.fixture
def worker():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="stockagent.settings_test")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-P", "solo",
         "-l", "WARNING", "-n", f"test-{os.getpid()}@%h", "-Q", QUEUE, "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_task_round_trip_through_worker_and_redis(worker):
    payload = {"code": "005930", "qty": 10, "note": "한글"}
    started = time.monotonic()
    result = echo.apply_async(args=(payload,), queue=QUEUE)
    try:
        assert result.get(timeout=60) == payload
    except Exception:
        worker.terminate()
        out = worker.stdout.read().decode(errors="replace") if worker.stdout else ""
        pytest.fail(
            f"no result after {time.monotonic() - started:.0f}s; worker said:\n{out[-3000:]}"
        )
    assert result.status == "SUCCESS"
