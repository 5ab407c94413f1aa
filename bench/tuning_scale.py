"""Tuning speed-up from one to two Celery workers (issue 16): the same tuning run, served once by one
worker process and once by two, wall time from the fan-out to the aggregated run.

The bars are handmade (`apps.backtests.tests.bars`: a deterministic wave on the tick grid, a different one
per code and day, 381 one-minute bars a day) and stored in the bench's own database. Each measurement
creates a fresh run with the same request (grid over `fast` × `slow` of `ma_cross`, walk-forward windows),
starts N worker processes (`celery worker -P solo -Q reports`, each one process: N processes, N trials at
a time), waits until they are ready (start-up is not measured), fans the trials out (`dispatch`: one
`backtests.tuning_trial` task per trial as a group, `backtests.tuning_finish` as the chord body) and waits
for the run's `finished_at`. It prints each wall time, trials/s, the trials each worker process ran (the
trial rows' `worker`), the ratio, and checks that both runs chose the same parameters (the result does not
depend on how many workers served it).

    .venv/bin/python bench/tuning_scale.py [--codes 4] [--days 8] [--fast 2..9] [--slow 12..40:4]
    .venv/bin/python bench/tuning_scale.py --smoke      # a few seconds: does it run?

Uses its own database (``DATABASE_URL``, default ``bench_tuning_scale``, created and migrated if missing,
dropped at the end unless ``--keep``) and Redis (``REDIS_URL``, default db 10, keys under
``REDIS_KEY_PREFIX``, default ``bench_tuning:``; the queue there is purged). On a machine with two cores
shared with other work the ratio is bounded by the free cores, not by the design.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_tuning_scale"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("REDIS_KEY_PREFIX", "bench_tuning:")


def parse_range(text: str) -> dict:
    if ".." in text:
        span, _, step = text.partition(":")
        low, _, high = span.partition("..")
        out = {"min": int(low), "max": int(high)}
        if step:
            out["step"] = int(step)
        return out
    return {"values": [int(v) for v in text.split(",")]}


def store_bars(codes: list[str], days: list) -> int:
    from apps.backtests.tests.bars import path_bars, wave
    from apps.market.models import Instrument, MinuteBar

    MinuteBar.objects.filter(instrument_id__in=codes).delete()
    for code in codes:
        Instrument.objects.update_or_create(code=code, defaults={"name": code, "market": "KOSPI"})
    rows = [
        MinuteBar(instrument_id=code, time=b.end, open=b.open, high=b.high, low=b.low,
                  close=b.close, volume=b.volume)
        for c, code in enumerate(codes)
        for d, day in enumerate(days)
        for b in path_bars(code, wave(base=20_000 + 5_000 * c, amp=12 + 3 * ((c + d) % 5),
                                      period=25 + 7 * ((c * 3 + d) % 6)), day, tick=50)
    ]  # fmt: skip
    MinuteBar.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def start_workers(n: int, tag: str, logs: Path) -> list[tuple[subprocess.Popen, Path]]:
    env = dict(os.environ)
    out = []
    for i in range(n):
        log = logs / f"worker-{tag}-{i}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-P", "solo", "-Q",
             "reports", "-l", "WARNING", "-n", f"tuning-bench-{tag}-{i}-{os.getpid()}@%h",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        out.append((proc, log))
    return out


def wait_ready(workers: list[tuple[subprocess.Popen, Path]], timeout: float = 120) -> None:
    from stockagent.celery import app

    names = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc, log in workers:
            if proc.poll() is not None:
                raise SystemExit(f"a worker died:\n{log.read_text(errors='replace')[-3000:]}")
        replies = app.control.ping(timeout=0.5) or []
        names = {name for reply in replies for name in reply}
        if len(names) >= len(workers):
            return
    raise SystemExit(f"workers not ready after {timeout}s (answered: {sorted(names)})")


def stop_workers(workers: list[tuple[subprocess.Popen, Path]]) -> None:
    for proc, _ in workers:
        proc.terminate()
    for proc, _ in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure(n: int, request: dict, logs: Path) -> tuple[float, object]:
    from apps.backtests.models import TuningRun
    from apps.backtests.tuning_services import dispatch, tuning_create
    from stockagent.celery import app

    app.control.purge()
    run = tuning_create(**request)
    workers = start_workers(n, str(n), logs)
    try:
        wait_ready(workers)
        started = time.perf_counter()
        dispatch(run.pk)
        while not TuningRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists():
            time.sleep(0.05)
        wall = time.perf_counter() - started
    finally:
        stop_workers(workers)
    run.refresh_from_db()
    return wall, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codes", type=int, default=4)
    parser.add_argument("--days", type=int, default=8, help="trading days of bars")
    parser.add_argument("--fast", default="2..9")
    parser.add_argument("--slow", default="12..40:4")
    parser.add_argument("--in-sample", type=int, default=3)
    parser.add_argument("--out-sample", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="tiny: 2 codes, 4 days, 4 sets")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    if args.smoke:
        args.codes, args.days, args.fast, args.slow, args.in_sample = 2, 4, "3,5", "10,20", 2

    from _db import drop_database, ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from apps.backtests.models import TuningRun
    from krx import calendar

    call_command("migrate", verbosity=0)
    TuningRun.objects.all().delete()
    days = [calendar.next_trading_day(dt.date(2025, 3, 3))]
    while len(days) < args.days:
        days.append(calendar.next_trading_day(days[-1]))
    codes = [f"{900000 + i:06d}" for i in range(args.codes)]
    bars = store_bars(codes, days)
    request = {
        "strategy": "ma_cross", "date_from": days[0], "date_to": days[-1], "codes": codes,
        "ranges": {"fast": parse_range(args.fast), "slow": parse_range(args.slow)},
        "in_sample_days": args.in_sample, "out_sample_days": args.out_sample,
        "objective": "total_pnl",
    }  # fmt: skip
    logs = Path(os.environ.get("STOCKAGENT_VAR_DIR", ROOT / "var")) / "bench-tuning"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"bars stored: {bars:,} ({args.codes} codes × {args.days} days); "
          f"cores: {os.cpu_count()}; logs: {logs}")  # fmt: skip
    results = {}
    try:
        for n in (1, 2):
            wall, run = measure(n, request, logs)
            per_worker: dict[str, int] = {}
            for name in run.trials.values_list("worker", flat=True):
                per_worker[name] = per_worker.get(name, 0) + 1
            results[n] = (wall, run)
            print(
                f"{n} worker{'s' if n > 1 else ' '}: run #{run.pk} {run.status}, "
                f"{run.trials_total} trials ({run.param_sets} sets × {len(run.windows)} windows) "
                f"in {wall:7.2f} s = {run.trials_total / wall:6.2f} trials/s; "
                f"trials per worker process: {sorted(per_worker.values(), reverse=True)}"
            )
        (w1, r1), (w2, r2) = results[1], results[2]
        print(f"speed-up 1 → 2 workers: {w1 / w2:.2f}× (wall {w1:.2f} s → {w2:.2f} s)")
        same = r1.best_params == r2.best_params and r1.result["headline"] == r2.result["headline"]
        print(f"same choice and out-of-sample headline with 1 and 2 workers: {same} "
              f"(best {r1.best_params}, headline {r1.result['headline']['value']})")  # fmt: skip
        if not same:
            raise SystemExit(1)
    finally:
        if not args.keep:
            drop_database(os.environ["DATABASE_URL"])


if __name__ == "__main__":
    main()
