"""Realtime condition alerts: latency from the simulator's 02 I frame to the Slack request (#6).

The production path end to end: the simulator (thread, frozen clock at 2025-02-04 09:05 KST, universe of
``--universe`` numeric codes from the stock master ``/work/shared/data/krx/master/2026-03-22.csv``, read in
place) → its WebSocket → the realtime hub's conditions handler (``live_support.realtime_hub``, batch window
``CONDITIONS_REALTIME_BATCH_MS``, one quote per entry through the client's shared 5 req/s limiter) →
``services.realtime_apply`` (ConditionEvent rows) → ``notify_condition_events`` → Redis → a real Celery
worker process → a fake Slack incoming webhook on 127.0.0.1.

I frames are injected at the simulator (``Hub.publish_events`` with the simulator's own
``ConditionEvent`` objects, on its event loop) for a realtime condition that matches nothing by itself.
The time is ``time.monotonic()`` right before the publish and when the fake Slack receives the message
naming the code (``FakeHTTPServer.requests[i].at``). A poller thread records when each ConditionEvent row
becomes visible (committed), every 5 ms.

- one at a time: ``--count`` entries (distinct codes), ``--spacing`` s apart (default 0.25 s: each is its
  own batch, and the handler's quotes stay inside the 5 req/s budget);
- burst: ``--burst`` I frames in one publish → exactly one Slack message expected.

Throttling is off (``NOTIFY_THROTTLE_MAX``) so every single entry is its own message.

    .venv/bin/python bench/conditions_latency.py [--count 200] [--spacing 0.25] [--burst 50]

Uses its own database (``DATABASE_URL``, default ``bench_conditions_latency``, created if missing; its
condition and notification tables, dedup marks included, are emptied) and Redis (``REDIS_URL``, default db 7; the Celery queue
there is purged). The worker is stopped at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from krx import KST  # noqa: E402

DB_NAME = "bench_conditions_latency"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/7")
os.environ.setdefault("NOTIFY_THROTTLE_MAX", "1000000")  # every entry its own message

MASTER = Path("/work/shared/data/krx/master/2026-03-22.csv")
START = dt.datetime(2025, 2, 4, 9, 5, tzinfo=KST)
SEQ = "0"
CONDITIONS_YAML = """
conditions:
  - seq: "0"
    name: 벤치 실시간
    formula: value_rank < 0
"""
CODE_RE = re.compile(r"\((\d{6})\)")


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def universe_codes(size: int) -> tuple[str, ...]:
    # Numeric codes only (see conditions_cycle.py: alphanumeric KRX codes overflow the code column).
    with MASTER.open(encoding="utf-8-sig", newline="") as fh:
        codes = sorted(
            (row.get("Code") or "").strip().zfill(6)
            for row in csv.DictReader(fh)
            if (row.get("Market") or "").strip().upper().startswith(("KOSPI", "KOSDAQ"))
            and (row.get("Code") or "").strip().isdigit()
        )
    return tuple(codes[:size])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def report(label: str, ms: list[float]) -> None:
    if not ms:
        print(f"{label:<34} n=0")
        return
    print(
        f"{label:<34} n={len(ms):<4} p50={percentile(ms, 50):7.1f}  p95={percentile(ms, 95):7.1f}  "
        f"p99={percentile(ms, 99):7.1f}  max={max(ms):7.1f}  mean={statistics.fmean(ms):7.1f} ms"
    )


class EventPoller:
    """Records when each entry's ConditionEvent row is first visible to another connection."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="event-poller")

    def _run(self) -> None:
        from django import db

        from apps.conditions.models import ConditionEvent

        try:
            while not self._stop.is_set():
                codes = ConditionEvent.objects.filter(kind="entry").values_list("code", flat=True)
                now = time.monotonic()
                for code in codes:
                    self.seen.setdefault(code, now)
                time.sleep(0.005)
        finally:
            db.connection.close()

    def start(self) -> EventPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--spacing", type=float, default=0.25, help="seconds between single frames")
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--universe", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
    args = parser.parse_args()
    if args.universe < args.count + args.burst:
        raise SystemExit("--universe must hold --count + --burst distinct codes")

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.broker.simulator.dto import ConditionEvent as SimConditionEvent
    from apps.conditions.models import Condition, ConditionEvent, ConditionMember, ConditionRun
    from apps.conditions.tests.live_support import realtime_hub, simulated_broker
    from apps.notifications.models import (
        DedupMark,
        Delivery,
        Notification,
        NotificationChannel,
    )
    from apps.notifications.tests.fakes import FakeHTTPServer, start_worker, stop_worker
    from apps.notifications.tests.fakes import wait_until as wait_for
    from stockagent.celery import app as celery_app

    logging.getLogger("apps.conditions").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    # Dedup marks too: the frozen sim clock makes every run's keys (code, KST minute) the same.
    for model in (
        DedupMark,
        Delivery,
        Notification,
        NotificationChannel,
        ConditionEvent,
        ConditionRun,
    ):
        model.objects.all().delete()
    ConditionMember.objects.all().delete()
    Condition.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="bench-conditions")
    slack = FakeHTTPServer().start()
    NotificationChannel.objects.create(
        user=user, kind="slack", secret=f"{slack.url}/hook", event_kinds=["condition.entry"]
    )
    celery_app.control.purge()
    codes = universe_codes(args.universe)
    singles, burst_codes = codes[: args.count], codes[args.count : args.count + args.burst]
    batch_seconds = settings.CONDITIONS_REALTIME_BATCH_MS / 1000

    worker = start_worker(
        {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": settings.REDIS_URL},
        concurrency=args.concurrency,
    )
    poller = EventPoller()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            simulated_broker(
                Path(tmp),
                start=START,
                conditions_yaml=CONDITIONS_YAML,
                rate_query_per_sec=5.0,
                universe=str(MASTER),
                codes=codes,
                use_krx_calendar=False,
            ) as (sim, broker),
        ):
            # First quotes make the simulator build 250 days of history per stock: do it now.
            sim.call(lambda: [sim.server.market.quote(c) for c in codes])
            Condition.objects.create(
                account=sim.account, seq=SEQ, name="벤치 실시간", active=True, realtime=True
            )
            with realtime_hub(broker, batch_seconds=batch_seconds, resync_seconds=1.0) as rt:
                wait_for(lambda: SEQ in rt.conditions.subscribed, timeout=30)
                poller.start()

                def publish(items: tuple[str, ...]) -> float:
                    at = time.monotonic()
                    sim.server.hub.publish_events(
                        [SimConditionEvent(SEQ, c, "I", sim.now()) for c in items]
                    )
                    return at

                # Warm-up (worker start, first quote, first connections); not measured.
                publish_warm = sim.call(publish, (singles[0],))
                if not slack.wait_for(1, timeout=120):
                    raise SystemExit("no Slack message for the warm-up:\n" + stop_worker(worker))
                warm_ms = (slack.requests[0].at - publish_warm) * 1000
                time.sleep(1.0)

                sent: dict[str, float] = {}
                for code in singles[1:]:
                    sent[code] = sim.call(publish, (code,))
                    time.sleep(args.spacing)
                wait_for(lambda: len(slack.requests) >= len(singles), timeout=60)
                time.sleep(1.0)
                singles_messages = len(slack.requests) - 1

                base = len(slack.requests)
                burst_at = sim.call(publish, burst_codes)
                wait_for(lambda: len(slack.requests) > base, timeout=60)
                time.sleep(3.0)  # anything more would be a second message
                burst_msgs = slack.requests[base:]
                wait_for(lambda: not Delivery.objects.exclude(status="sent").exists(), timeout=30)
                frames, applied = rt.conditions.stats.frames, rt.conditions.stats.applied
    finally:
        poller.stop()
        tail = stop_worker(worker)
        slack.stop()

    arrived: dict[str, float] = {}
    for r in slack.requests:
        found = CODE_RE.findall(str(r.body.get("text", "")))
        if len(set(found)) == 1:
            arrived.setdefault(found[0], r.at)
    to_slack = [(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]
    to_row = [(poller.seen[c] - t) * 1000 for c, t in sent.items() if c in poller.seen]
    burst_rows = [poller.seen[c] for c in burst_codes if c in poller.seen]
    events = ConditionEvent.objects.filter(kind="entry").count()
    with_price = ConditionEvent.objects.filter(kind="entry", price__isnull=False).count()

    print(
        f"02 I frame (simulator) → ConditionEvent → Celery worker (-P threads -c {args.concurrency}) "
        f"→ fake Slack; batch window {batch_seconds * 1000:.0f} ms, quotes at 5 req/s, "
        f"spacing {args.spacing * 1000:.0f} ms, {os.cpu_count()} CPUs"
    )
    report("frame → ConditionEvent committed", to_row)
    report("frame → Slack request", to_slack)
    missing = len(sent) - len(to_slack)
    print(
        f"singles: {len(sent)} frames, {singles_messages} Slack messages, {missing} without one; "
        f"warm-up {warm_ms:.0f} ms"
    )
    burst_text = str(burst_msgs[0].body.get("text", "")) if burst_msgs else ""
    print(
        f"burst of {len(burst_codes)}: {len(burst_msgs)} Slack message(s), "
        f"first after {(burst_msgs[0].at - burst_at) * 1000 if burst_msgs else float('nan'):.0f} ms, "
        f"rows committed after {(max(burst_rows) - burst_at) * 1000 if burst_rows else float('nan'):.0f} ms "
        f"({len(burst_rows)}/{len(burst_codes)} rows), "
        f"codes named in the message {len(set(CODE_RE.findall(burst_text)))}"
    )
    print(
        f"hub: {frames} frames, {applied} applied; entries recorded {events} "
        f"({with_price} with a quoted price); deliveries not sent "
        f"{Delivery.objects.exclude(status='sent').count()}"
    )
    if missing or len(burst_msgs) != 1:
        print(tail)


if __name__ == "__main__":
    main()
