"""Notification latency: p50/p99 from a ``notify()`` call to the fake Slack webhook receiving the request.

The whole production path: ``notify()`` writes the Notification and Delivery rows in one transaction, the
after-commit hook queues ``notifications.send_delivery`` on Redis, a real Celery worker process (thread pool)
claims the delivery and POSTs to a local fake Slack incoming webhook (127.0.0.1, port 0). Notifications are
sent one at a time (the latency of one alert, no queueing), then as a burst of all N at once (the time until
the last one lands, with throttling switched off so every one is a separate message).

    createdb -h 127.0.0.1 -U postgres bench_notify   # or let the bench create it
    .venv/bin/python bench/notify_latency.py [--count 200] [--concurrency 4]

Uses its own database (``DATABASE_URL``, default ``bench_notify``; its notification tables are emptied) and
Redis (``REDIS_URL``, default db 10; the Celery queue there is purged).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_notify"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
# Measure the send path, not the throttle: every notification is its own message.
os.environ.setdefault("NOTIFY_THROTTLE_MAX", "1000000")


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def report(label: str, latencies_ms: list[float]) -> None:
    print(
        f"{label:<28} n={len(latencies_ms):<4} p50={percentile(latencies_ms, 50):7.1f} ms  "
        f"p90={percentile(latencies_ms, 90):7.1f} ms  p99={percentile(latencies_ms, 99):7.1f} ms  "
        f"max={max(latencies_ms):7.1f} ms  mean={statistics.fmean(latencies_ms):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.notifications.models import Delivery, Notification, NotificationChannel
    from apps.notifications.services import notify
    from apps.notifications.tests.fakes import (
        FakeHTTPServer,
        start_worker,
        stop_worker,
        wait_until,
    )
    from stockagent.celery import app as celery_app

    call_command("migrate", verbosity=0)
    Delivery.objects.all().delete()
    Notification.objects.all().delete()
    NotificationChannel.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-notify")
    slack = FakeHTTPServer().start()
    NotificationChannel.objects.create(
        user=user, kind="slack", secret=f"{slack.url}/services/bench"
    )
    celery_app.control.purge()

    worker = start_worker(
        {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": settings.REDIS_URL},
        concurrency=args.concurrency,
    )
    try:
        # Warm-up: the first notification also waits for the worker to start.
        notify("system", title="warm-up", users=[user])
        if not slack.wait_for(1, timeout=120):
            raise SystemExit(
                "worker did not deliver the warm-up notification:\n" + stop_worker(worker)
            )
        for i in range(5):
            notify("system", title=f"warm-up {i}", users=[user])
        slack.wait_for(6, timeout=60)
        base = len(slack.requests)

        sequential: list[float] = []
        for i in range(args.count):
            started = time.monotonic()
            notify("condition.entry", title=f"[조건 편입] 벤치 · 종목{i:03d}", users=[user])
            if not slack.wait_for(base + i + 1, timeout=30):
                raise SystemExit(f"notification {i} never arrived")
            sequential.append((slack.requests[base + i].at - started) * 1000)

        base = len(slack.requests)
        sent_at: dict[str, float] = {}
        burst_started = time.monotonic()
        for i in range(args.count):
            title = f"[조건 편입] 버스트 · 종목{i:03d}"
            sent_at[title] = time.monotonic()
            notify("condition.entry", title=title, users=[user])
        notify_ms = (time.monotonic() - burst_started) * 1000
        if not slack.wait_for(base + args.count, timeout=120):
            raise SystemExit("burst did not arrive in full")
        burst = [(r.at - sent_at[r.body["text"].strip("*")]) * 1000 for r in slack.requests[base:]]
        burst_total_ms = (max(r.at for r in slack.requests[base:]) - burst_started) * 1000
        wait_until(lambda: not Delivery.objects.exclude(status="sent").exists(), timeout=30)
    finally:
        tail = stop_worker(worker)
        slack.stop()

    print(
        f"notify() → fake Slack webhook through Redis + a Celery worker "
        f"(-P threads -c {args.concurrency}), {os.cpu_count()} CPUs"
    )
    report("one at a time", sequential)
    report(f"burst of {args.count}", burst)
    print(
        f"burst: {args.count} notify() calls took {notify_ms:.0f} ms; last delivery "
        f"{burst_total_ms:.0f} ms after the first call ({args.count / burst_total_ms * 1000:.0f} msg/s)"
    )
    failed = Delivery.objects.exclude(status="sent").count()
    print(f"deliveries not sent: {failed}")
    if failed:
        print(tail)


if __name__ == "__main__":
    main()
