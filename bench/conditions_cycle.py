"""Condition check cycle: wall time and WebSocket requests to check 10 conditions × 500 members (#6).

Goal: one full 30-second cycle (`tasks.check_conditions()` → `services.check_cycle`) inside 30 s at the
production query budget of 5 requests/s.

Setup: the Kiwoom simulator in a thread with a frozen clock inside a session (2025-02-04 09:30 KST by
default) and a universe of ``--universe`` stocks (default 600), the first KOSPI/KOSDAQ codes of the stock
master ``/work/shared/data/krx/master/2026-03-22.csv`` (read in place, never copied). Its conditions file
has 10 conditions ``value_rank > 10·k and value_rank <= 10·k + 500`` (k = 0…9): exactly 500 members each,
5 CNSRREQ pages of 100 (the simulator's page size). The client (``KiwoomBroker``) runs at
``rate_query_per_sec=5`` (shared Redis limiter, as in production). The simulator throttles REST at 5/s
itself; it does not throttle its WebSocket, so this bench puts the simulator's own 5/s limiter
(``ServerConfig.rate_limit_per_s``/``rate_limit_burst``) in front of its CNSRLST/CNSRREQ handlers and answers
a throttle error (return_code 5) to any request over it. Those errors must be 0.

Each path makes a baseline cycle (members recorded, no events), moves the simulated clock ``--advance``
seconds (the ranks shift: some entries and exits), then times one cycle:

- (a) relay: the realtime hub holds the socket and serves the Celery task's searches (production);
- (b) fallback: no hub, the task opens its own short socket per condition.

Requests are counted at the simulator (every CNSRLST/CNSRREQ/LOGIN frame its WebSocket handler receives,
with the wall time). "max in 1 s" is the most requests that arrived in any 1-second window.

    .venv/bin/python bench/conditions_cycle.py [--universe 600] [--advance 60]

Uses its own database (``DATABASE_URL``, default ``bench_conditions_cycle``, created if missing; its
condition tables are emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from krx import KST  # noqa: E402

DB_NAME = "bench_conditions_cycle"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")

MASTER = Path("/work/shared/data/krx/master/2026-03-22.csv")
DAY = dt.date(2025, 2, 4)  # a Tuesday, a normal KRX session
N_CONDITIONS = 10
MEMBERS = 500
RATE = 5.0


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def universe_codes(size: int) -> tuple[str, ...]:
    with MASTER.open(encoding="utf-8-sig", newline="") as fh:
        codes = sorted(
            (row.get("Code") or "").strip().zfill(6)
            for row in csv.DictReader(fh)
            if (row.get("Market") or "").strip().upper().startswith(("KOSPI", "KOSDAQ"))
            # Numeric codes only: the client cannot store KRX's alphanumeric codes (0001A0, 00104K):
            # normalize.code() keeps the "A" of "A0001A0" and the 7 characters overflow
            # ConditionMember.code (varchar 6), which crashes the whole condition's check.
            and (row.get("Code") or "").strip().isdigit()
        )
    if len(codes) < size:
        raise SystemExit(f"{MASTER} has only {len(codes)} KOSPI/KOSDAQ codes (< {size})")
    return tuple(codes[:size])


def conditions_yaml(step: int) -> str:
    lines = ["conditions:"]
    for k in range(N_CONDITIONS):
        lo = k * step
        lines += [
            f'  - seq: "{k}"',
            f"    name: 거래대금 {lo + 1}~{lo + MEMBERS}위",
            f"    formula: value_rank > {lo} and value_rank <= {lo + MEMBERS}",
        ]
    return "\n".join(lines) + "\n"


class RequestLog:
    """Wraps the simulator's WebSocket frame handlers: counts what arrives and throttles condition
    requests with the simulator's own limiter (5/s) — the simulator does not throttle its WebSocket."""

    COUNTED = ("LOGIN", "CNSRLST", "CNSRREQ")

    def __init__(self) -> None:
        self.frames: list[tuple[float, str, str, str]] = []  # (monotonic, trnm, search_type, seq)
        self.throttled: list[tuple[float, str]] = []

    def install(self) -> None:
        from apps.broker.simulator import ws as sim_ws
        from apps.broker.simulator.ratelimit import throttle_message

        def wrap(trnm: str, handler: Any) -> Any:
            async def counted(server: Any, session: Any, frame: dict[str, Any]) -> bool:
                self.frames.append(
                    (
                        time.monotonic(),
                        trnm,
                        str(frame.get("search_type", "")),
                        str(frame.get("seq", "")),
                    )
                )
                if trnm in ("CNSRLST", "CNSRREQ") and not server.ratelimiter.allow(
                    session.app_key or "", "ws-condition"
                ):
                    self.throttled.append((time.monotonic(), trnm))
                    await sim_ws._send(
                        session,
                        {
                            "trnm": trnm,
                            "seq": str(frame.get("seq", "")).strip(),
                            "return_code": 5,
                            "return_msg": throttle_message(trnm),
                        },
                    )
                    return True
                return await handler(server, session, frame)

            return counted

        for trnm in self.COUNTED:
            sim_ws.HANDLERS[trnm] = wrap(trnm, sim_ws.HANDLERS[trnm])

    def mark(self) -> tuple[int, int]:
        return len(self.frames), len(self.throttled)

    def since(self, mark: tuple[int, int]) -> tuple[list[tuple[float, str, str, str]], int]:
        return self.frames[mark[0] :], len(self.throttled) - mark[1]


def max_in_window(stamps: list[float], window: float = 1.0) -> int:
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def reset_conditions(account: str) -> None:
    from apps.conditions.models import Condition, ConditionEvent, ConditionMember, ConditionRun

    ConditionEvent.objects.all().delete()
    ConditionRun.objects.all().delete()
    ConditionMember.objects.all().delete()
    Condition.objects.exclude(account=account).delete()
    for k in range(N_CONDITIONS):
        Condition.objects.update_or_create(
            account=account,
            seq=str(k),
            defaults={
                "name": f"bench {k}",
                "active": True,
                "realtime": False,
                "listed": True,
                "baseline_at": None,
                "member_count": 0,
            },
        )


def one_path(label: str, sim: Any, requests: RequestLog, advance: float) -> dict[str, Any]:
    from apps.broker.clock import reset_cache
    from apps.conditions import tasks
    from apps.conditions.models import ConditionRun

    reset_conditions(sim.account)
    baseline = tasks.check_conditions()
    if baseline.get("checked") != N_CONDITIONS or baseline.get("failed"):
        raise SystemExit(f"{label}: baseline cycle failed: {baseline}")
    sim.advance_sync(seconds=advance)
    reset_cache()
    expected = {str(k): set(sim.call(sim.exchange.condition_members, str(k))) for k in range(10)}

    mark = requests.mark()
    runs_before = set(ConditionRun.objects.values_list("pk", flat=True))
    started = time.monotonic()
    result = tasks.check_conditions()
    wall = time.monotonic() - started
    frames, throttled = requests.since(mark)

    runs = ConditionRun.objects.exclude(pk__in=runs_before).select_related("condition")
    members = {r.condition.seq: r.member_count for r in runs}
    matches = sum(1 for r in runs if set(r.members) == expected[r.condition.seq])
    kinds = Counter(t for _, t, _, _ in frames)
    stamps = [at for at, t, _, _ in frames if t in ("CNSRLST", "CNSRREQ")]
    n = len(stamps)
    # Per condition: first page → last page (paging), last page → next condition's first (reply, DB apply).
    by_seq: dict[str, list[float]] = {}
    for at, t, _, seq in frames:
        if t == "CNSRREQ":
            by_seq.setdefault(seq, []).append(at)
    firsts = sorted(v[0] for v in by_seq.values())
    paging = sum(v[-1] - v[0] for v in by_seq.values())
    gaps = sum(
        b - a for a, b in zip(sorted(v[-1] for v in by_seq.values()), firsts[1:], strict=False)
    )
    span = stamps[-1] - stamps[0] if n > 1 else 0.0
    return {
        "label": label,
        "wall": wall,
        "result": result,
        "kinds": kinds,
        "requests": n,
        "pages": kinds["CNSRREQ"] / N_CONDITIONS,
        "rate": (n - 1) / span if span else float("nan"),
        "max_1s": max_in_window(stamps),
        "paging": paging,
        "between": gaps,
        "throttled": throttled,
        "members": members,
        "matches": matches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--universe", type=int, default=600, help="stocks in the simulator")
    parser.add_argument("--start", default="09:30:00", help="simulated KST time of the first cycle")
    parser.add_argument("--advance", type=float, default=60.0, help="sim seconds between cycles")
    args = parser.parse_args()
    step = (args.universe - MEMBERS) // (N_CONDITIONS - 1) if N_CONDITIONS > 1 else 0
    step = min(step, 10)
    if args.universe < MEMBERS + step * (N_CONDITIONS - 1):
        raise SystemExit(f"--universe must be at least {MEMBERS + step * (N_CONDITIONS - 1)}")

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import logging
    import tempfile

    from django.core.management import call_command

    from apps.conditions.tests.live_support import realtime_hub, simulated_broker

    logging.getLogger("apps.conditions").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)

    h, m, s = (int(x) for x in args.start.split(":"))
    start = dt.datetime.combine(DAY, dt.time(h, m, s), tzinfo=KST)
    codes = universe_codes(args.universe)
    requests = RequestLog()
    requests.install()
    setup_started = time.monotonic()
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulated_broker(
            Path(tmp),
            start=start,
            conditions_yaml=conditions_yaml(step),
            rate_query_per_sec=RATE,
            server_rate_limit=RATE,
            start_timeout=600,
            key_prefix="bench-conditions",
            universe=str(MASTER),
            codes=codes,
            use_krx_calendar=False,
        ) as (sim, broker),
    ):
        setup = time.monotonic() - setup_started
        sizes = {
            k: len(sim.call(sim.exchange.condition_members, str(k))) for k in range(N_CONDITIONS)
        }
        if set(sizes.values()) != {MEMBERS}:
            raise SystemExit(f"conditions do not have {MEMBERS} members each: {sizes}")
        # The simulator builds 250 days of history the first time it quotes a stock (~25 ms each, on
        # its event loop): a cold first page of 100 rows takes ~2.7 s. Warm every stock up first so
        # the cycles measure the client, not the simulator's one-off start-up.
        warm_started = time.monotonic()
        sim.call(lambda: [sim.server.market.quote(c) for c in codes])
        warm = time.monotonic() - warm_started
        reset_conditions(sim.account)
        with realtime_hub(broker, resync_seconds=1.0) as rt:
            rows.append(one_path("(a) relay via hub", sim, requests, args.advance))
            served = rt.hub.feed is not None
        rows.append(one_path("(b) own short socket", sim, requests, args.advance))
        sim_time = sim.now()

    print(
        f"check cycle: {N_CONDITIONS} conditions × {MEMBERS} members, simulator universe "
        f"{args.universe} stocks (stock master), page size 100, client 5 req/s, simulator 5/s "
        f"(setup {setup:.0f} s + warm-up {warm:.0f} s, last sim time {sim_time.astimezone(KST):%H:%M:%S}, {os.cpu_count()} CPUs)"
    )
    print(
        f"{'path':<22} {'wall s':>7} {'requests':>8} {'LOGIN':>5} {'CNSRLST':>7} {'CNSRREQ':>7} "
        f"{'pages/cond':>10} {'req/s':>6} {'max in 1s':>9} {'throttled':>9} {'members/cond':>12} "
        f"{'lists ok':>8} {'entries':>7} {'exits':>5} {'goal <30s':>9}"
    )
    for r in rows:
        mem = sorted(set(r["members"].values()))
        mem_txt = "/".join(str(x) for x in mem) if mem else "-"
        k = r["kinds"]
        res = r["result"]
        print(
            f"{r['label']:<22} {r['wall']:7.2f} {r['requests']:8d} {k['LOGIN']:5d} "
            f"{k['CNSRLST']:7d} {k['CNSRREQ']:7d} {r['pages']:10.1f} {r['rate']:6.2f} "
            f"{r['max_1s']:9d} {r['throttled']:9d} {mem_txt:>12} "
            f"{r['matches']:>5d}/{len(r['members']):<2d} {res.get('entries', 0):7d} "
            f"{res.get('exits', 0):5d} {'yes' if r['wall'] < 30 else 'NO':>9}"
        )
        if res.get("failed") or res.get("skipped"):
            print(f"  cycle result: {res}")
    for r in rows:
        print(
            f"{r['label']}: paging (first→last page, all conditions) {r['paging']:.2f} s; "
            f"last page → next condition's first page (reply, parse, apply) {r['between']:.2f} s"
        )
    if not served:
        print("warning: the hub had no socket during (a)")


if __name__ == "__main__":
    main()
