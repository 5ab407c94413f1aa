"""The whole stack as the README's run command starts it: all-green health, clean stop, no orphans."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def _stackcheck(args: list[str], env: dict[str, str], prefix: list[str] | None = None) -> dict:
    out = subprocess.run(
        [*(prefix or []), sys.executable, "-m", "apps.core.stackcheck", *args],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fresh_database(kind: str) -> tuple[str, str]:
    """A database of this suite's own for a whole-stack run (suites running side by side must not
    share one: `TEST_DATABASE_NAME` names the suite), dropped even if a stray connection is left,
    and a Redis key prefix to match."""
    db_name = f"stockagent_{kind}_{os.environ.get('TEST_DATABASE_NAME') or 'test'}"
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", db_name],
        check=True,
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], check=True)
    return db_name, f"{db_name}:"


def _assert_green_and_clean(result: dict, expected: set[str]) -> None:
    assert result["green_after_seconds"] is not None, result["log_tail"]
    assert expected <= set(result["processes"])
    health = {c["component"]: c["status"] for c in result["last_health"]["components"]}
    for component in ("database", "redis", "worker", "beat"):
        assert health[component] == "ok"
    assert result["leftover_processes"] == []


@pytest.fixture(scope="module")
def stack_on_postgres_and_redis() -> dict:
    """One whole-stack run on Postgres + Redis, shared by the two tests below (a stack start-up with
    migrate and seed_demo on a fresh database is the costly part): start, all-green health, then SIGKILL
    each process in turn and wait for it to come back, then Ctrl-C and a look for processes left over."""
    db_name, key_prefix = _fresh_database("stackcheck")
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
        REDIS_KEY_PREFIX=key_prefix,
        SECRET_KEY="stackcheck-secret-key-0123456789",
        FIELD_ENCRYPTION_KEY=os.environ.get(
            "FIELD_ENCRYPTION_KEY", "s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI="
        ),
    )
    return _stackcheck(["--chaos", "180"], env)


def test_stack_on_postgres_and_redis(stack_on_postgres_and_redis):
    """The README's run command on Postgres + Redis: all-green health, a clean stop with no orphans (the
    stop comes after the chaos round of the shared run, so it also stops every restarted process)."""
    result = stack_on_postgres_and_redis
    _assert_green_and_clean(result, {"web", "worker", "beat"})
    assert "redis" not in result["processes"]  # a Redis was configured: none is embedded


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_stack_with_embedded_defaults_and_nothing_on_6379():
    # A fresh network namespace has only its own loopback: no Postgres, no Redis on 6379.
    probe = subprocess.run(["unshare", "--net", "true"], check=False, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.decode()[:200]}")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = _stackcheck(["--embedded", "--lo-up"], env, prefix=["unshare", "--net"])
    _assert_green_and_clean(result, {"redis", "web", "worker", "beat"})
    db = next(c for c in result["last_health"]["components"] if c["component"] == "database")
    assert db["message"] == "sqlite"


def test_chaos_every_process_killed_in_turn_comes_back_on_its_own(stack_on_postgres_and_redis):
    """SIGKILL each process of the running stack in turn: the others keep running (none restarted), health
    shows the killed one's component red, and it comes back green by itself (within a generous bound; the
    time is the bench's business: bench/stack_chaos.py). No condition event or notification is lost or
    duplicated meanwhile.

    The stack plays a fixed trading day (2025-01-15 from 08:58 KST) at 30x, every demo condition realtime,
    so the conditions move while each process is killed. Afterwards the simulator's clock is frozen and
    every condition searched once more; then, per (condition, stock), in exchange time
    (apps/core/chaos_accounting.py says it at length):

    - the truth is the simulator's own list of the day's entries/exits (`GET /_sim/conditions`);
    - duplicated = two recorded entries (or exits) in a row, or a repeated (condition, code, kind, exchange
      time);
    - every recorded event is a real change: a realtime one at exactly its exchange time, a search's one a
      change the search could have seen;
    - lost = a change no event records, unless nobody could see it: a change and its reversal both within
      a blind stretch (the realtime process or the simulator dead, from the kill until health is green
      again plus the reconnect's catch-up search: that search, and the 30-second check, record the net
      change with their own time, which is the design), or before the baseline. A lone unrecorded change
      would leave the recorded membership wrong, so the final memberships must agree exactly;
    - each recorded event the condition alerts on is one alert item (one alert per condition, direction,
      stock and minute: a second entry in the same minute is counted, not alerted), and each alerting
      notification has exactly one `Delivery` on the demo console channel, finally sent (at-least-once:
      a send repeated after a worker died mid-send stays one row, with attempts > 1).
    """
    result = stack_on_postgres_and_redis
    _assert_green_and_clean(result, {"web", "worker", "beat"})
    killed = {r["process"]: r for r in result["chaos"]}
    assert {"web", "beat", "worker-orders", "worker-market", "worker-notify"} <= set(killed)
    for name, r in killed.items():
        assert r["green_after_seconds"] is not None, (name, result["chaos"])
        assert r["others_restarted"] == [], (name, r)
        assert r["restarts"] == 1, (name, r)
        if r["component"]:
            # Shown red, not left green. A process the supervisor brings back between two polls may never
            # be caught red by a poll of /health; the state file health reads it from (its process
            # override, test_supervisor.py) then showed it down, which is the same report.
            shown_red = r["red_after_seconds"] is not None or r["down_after_seconds"] is not None
            assert shown_red, (name, r)
    accounting = result["accounting"]
    events, notes = accounting["events"], accounting["notifications"]
    kills = [(r["process"], r.get("sim_window"), r["green_after_seconds"]) for r in result["chaos"]]
    assert events["problems"] == [], (
        events["problems"],
        accounting.get("condition_log"),
        accounting.get("blind_windows"),
        kills,
    )
    assert notes["problems"] == [], accounting
    # The run was not idle: the market moved, the realtime feed recorded it, alerts went out.
    assert events["counts"]["sim_changes_after_start"] > 0, accounting
    assert events["counts"].get("matched_realtime", 0) > 0, accounting
    assert notes["counts"].get("deliveries_sent", 0) > 0, accounting
