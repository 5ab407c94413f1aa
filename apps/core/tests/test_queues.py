"""Work goes to separate queues with their own workers: routing, the workers runstack and docker-compose start,
and a flood of notification sends to a hanging endpoint that must not delay other work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

from apps.core.management.commands.runstack import WORKERS
from stockagent.celery import app as celery_app

ROOT = Path(settings.BASE_DIR)
QUEUES = {q.name for q in settings.CELERY_TASK_QUEUES}


def _queue_of(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("conditions.check", "market"),
        ("conditions.prune_runs", "market"),
        ("notifications.send_delivery", "notifications"),
        ("notifications.dispatch_due", "notifications"),
        ("orders.submit", "orders"),
        ("risk.check_entry", "orders"),
        ("reports.daily", "reports"),
        ("core.heartbeat", "default"),
    ],
)
def test_tasks_are_routed_by_kind(task, queue):
    assert _queue_of(task) == queue


def _served(queues_arg: str) -> set[str]:
    return set(queues_arg.split(","))


def test_runstack_serves_every_queue_once_and_orders_alone():
    served = [_served(queues) for _name, queues, _pool, _n in WORKERS]
    assert sorted(q for s in served for q in s) == sorted(QUEUES)  # every queue, exactly once
    assert {"orders"} in served  # orders and risk have a worker of their own


def test_compose_runs_the_same_workers():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = [
        svc["command"]
        for name, svc in compose["services"].items()
        if name.startswith("worker") and isinstance(svc.get("command"), str)
    ]
    served = sorted(_served(re.search(r"-Q (\S+)", c).group(1)) for c in commands)
    assert served == sorted(_served(queues) for _n, queues, _p, _c in WORKERS)


def test_the_reports_worker_fetches_only_when_a_process_is_free():
    """Tuning trials are long: a reports worker must not hold a fetched one it has not started."""
    from apps.core.management.commands.runstack import Command

    specs = Command().processes({"concurrency": 0, "host": "127.0.0.1", "port": 8000, "only": ""})
    workers = {s.name: s.argv for s in specs if s.name.startswith("worker")}
    assert [n for n, argv in workers.items() if "--disable-prefetch" in argv] == ["worker-reports"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = {
        name: svc["command"]
        for name, svc in compose["services"].items()
        if name.startswith("worker") and isinstance(svc.get("command"), str)
    }
    assert [n for n, c in commands.items() if "--disable-prefetch" in c.split()] == [
        "worker-reports"
    ]
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


@pytest.fixture
def fake_http():
    from apps.notifications.tests.fakes import FakeHTTPServer

    server = FakeHTTPServer().start()
    yield server
    server.stop()


def _worker(queues: str, pool: str, concurrency: int) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        NOTIFY_HTTP_TIMEOUT_SECONDS="60",
    )
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-Q", queues, "-P", pool,
         "-c", str(concurrency), "-l", "WARNING", "-n", f"{queues}-{os.getpid()}@%h",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_hanging_test_sends_does_not_delay_other_work(fake_http):
    from apps.core.tasks import echo
    from apps.notifications.services import channel_send_test
    from apps.notifications.tests.factories import SlackChannelFactory

    celery_app.control.purge()
    fake_http.hang = True  # the endpoint never answers while the test runs
    channel = SlackChannelFactory(secret=f"{fake_http.url}/services/T/B/slow")
    workers = [_worker("notifications", "threads", 2), _worker("market,default", "solo", 1)]
    try:
        for _ in range(20):
            channel_send_test(channel)
        assert fake_http.wait_for(2, timeout=90)  # both notification slots are now held
        # Other work still runs at once: the round-trip completes while the sends hang.
        assert echo.delay("still here").get(timeout=90) == "still here"
        assert not fake_http.release.is_set() and len(fake_http.requests) == 2
    finally:
        fake_http.release.set()
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        celery_app.control.purge()
