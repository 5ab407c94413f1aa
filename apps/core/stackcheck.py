"""A scripted check of the whole stack: start ``manage.py runstack``, wait for all-green health, measure each
process's memory, stop it with Ctrl-C (SIGINT) and list any process that outlived it.

With ``--chaos BOUND`` it then SIGKILLs each process in turn (``chaos``) while the simulator plays a fixed
trading day at 30x with every demo condition realtime, and accounts for every condition change and
notification of the run (``account``, apps/core/chaos_accounting.py).

Run as ``python -m apps.core.stackcheck [--embedded]``; it prints one JSON object. The test suite runs it (with
``--embedded`` inside a fresh network namespace, where nothing listens on 6379) and so does
``bench/stack_startup.py``. It sets its own ``STOCKAGENT_VAR_DIR`` so it never touches a real installation.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
PROCESS_NAMES = {
    "redis-server": "redis",
    "daphne": "web",
    " worker ": "worker",
    " beat ": "beat",
    "kiwoom_sim": "simulator",
    "run_realtime": "realtime",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def health(port: int, token: str) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/health", headers={"Authorization": f"Token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - loopback only
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return None


def sim_clock(sim_port: int | None, body: dict | None = None) -> datetime | None:
    """The simulator's exchange time (None when it does not answer); POST ``body`` to set its clock."""
    if not sim_port:
        return None
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{sim_port}/_sim/clock", data=data)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback only
            return datetime.fromisoformat(json.loads(response.read())["sim_time"])
    except (OSError, ValueError, KeyError):
        return None


def classify(proc: psutil.Process) -> str:
    try:
        cmdline = " " + " ".join(proc.cmdline()) + " "
    except psutil.Error:
        return "?"
    for needle, name in PROCESS_NAMES.items():
        if needle in cmdline:
            return name
    return "other"


def memory_by_process(root: psutil.Process) -> dict[str, float]:
    """RSS in MiB per stack process (a Celery worker counts with its pool children)."""
    totals: dict[str, float] = {"runstack": root.memory_info().rss / 2**20}
    for child in root.children(recursive=True):
        name = classify(child)
        if name in ("other", "?"):
            continue
        try:
            totals[name] = totals.get(name, 0.0) + child.memory_info().rss / 2**20
        except psutil.Error:
            continue
    return {k: round(v, 1) for k, v in sorted(totals.items())}


def pss_by_process(root: psutil.Process) -> dict[str, float]:
    """PSS in MiB (shared pages split between the processes sharing them, so the figures add up) of
    every process in the stack's tree, grouped like ``memory_by_process``; ``wrappers`` are processes
    that are none of the stack's programs (a process manager's forks or shells), ``total`` is the tree."""
    totals: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        name = "runstack" if proc.pid == root.pid else classify(proc)
        if name in ("other", "?"):
            name = "wrappers"
        try:
            pss = proc.memory_full_info().pss / 2**20
        except (psutil.Error, AttributeError):
            continue
        totals[name] = totals.get(name, 0.0) + pss
    totals["total"] = sum(totals.values())
    return {k: round(v, 1) for k, v in sorted(totals.items())}


def process_states(var_dir: str) -> dict[str, dict]:
    try:
        data = json.loads((Path(var_dir) / "run" / "processes.json").read_text())
    except (OSError, ValueError):
        return {}
    return data.get("processes") or {}


def _all_up(var_dir: str) -> bool:
    states = process_states(var_dir)
    return bool(states) and all(p["state"] == "up" for p in states.values())


def chaos(
    var_dir: str, port: int, token: str, bound: float, sim_port: int | None = None
) -> list[dict]:
    """SIGKILL each supervised process in turn (`kill_one`)."""
    return [
        kill_one(var_dir, port, token, name, bound, sim_port)
        for name in sorted(process_states(var_dir))
    ]


def kill_one(
    var_dir: str, port: int, token: str, name: str, bound: float, sim_port: int | None = None
) -> dict:
    """SIGKILL the supervised process `name`; record whether health showed its component red (and when the
    supervisor's state file, which health reads, first showed the process not up), the
    seconds from the kill to all-green health with every process up again (the supervisor restarted
    it), and whether any other process was restarted (it must not be). With the simulator's port, also
    the exchange times the simulator showed from just before the kill to green (``sim_window``: the
    stretch of the market a dead realtime feed could not see)."""
    before = process_states(var_dir)
    victim = before[name]
    component = victim.get("component")
    seen = [t for t in [sim_clock(sim_port)] if t is not None]
    killed_at = time.monotonic()
    try:
        os.kill(victim["pid"], signal.SIGKILL)
    except (ProcessLookupError, TypeError):
        return {"process": name, "error": "not running"}
    saw_red = None
    down_seen = None  # seconds after the kill the supervisor's state file first showed it not up
    green_after = None
    red_last: dict[str, float] = {}  # component -> seconds after the kill it was last seen not ok
    while time.monotonic() - killed_at < bound:
        states = process_states(var_dir)
        mine = states.get(name, {})
        if down_seen is None and (mine.get("state") != "up" or mine.get("pid") != victim["pid"]):
            down_seen = round(time.monotonic() - killed_at, 2)
        report = health(port, token)
        by_name = {c["component"]: c for c in (report or {}).get("components", [])}
        red = by_name.get(component, {}).get("status") != "ok"
        if report and component and saw_red is None and red:
            saw_red = round(time.monotonic() - killed_at, 2)
        for other, c in by_name.items():
            if c.get("expected") and c.get("status") != "ok":
                red_last[other] = round(time.monotonic() - killed_at, 2)
        if report and report.get("ok") and _all_up(var_dir):
            after = process_states(var_dir)
            if after[name]["pid"] != victim["pid"]:
                green_after = round(time.monotonic() - killed_at, 2)
                break
        if name in ("simulator", "realtime") and (now := sim_clock(sim_port)) is not None:
            seen.append(now)  # a restarted simulator may resume from an earlier time
        time.sleep(0.05)
    if (now := sim_clock(sim_port)) is not None:
        seen.append(now)
    after = process_states(var_dir)
    others_restarted = sorted(
        other
        for other, state in after.items()
        if other != name and state.get("pid") != before.get(other, {}).get("pid")
    )
    return {
        "process": name,
        "component": component,
        "red_after_seconds": saw_red,
        "down_after_seconds": down_seen,
        "green_after_seconds": green_after,
        "others_restarted": others_restarted,
        "red_until": red_last,
        "restarts": after.get(name, {}).get("restarts"),
        "sim_window": [min(seen).isoformat(), max(seen).isoformat()] if seen else None,
    }


# The chaos run plays a fixed trading day at an accelerated clock, so conditions produce entries and exits
# while each process is killed (a weekend's wall-clock market would produce none).
CHAOS_SIM_DATE, CHAOS_SIM_START, CHAOS_SIM_SPEED = "2025-01-15", "08:58", 30.0


def account(env: dict[str, str], sim_port: int, chaos_results: list[dict], start: datetime) -> dict:
    """After the chaos: freeze the simulator's clock, search every condition once more (the final
    memberships must agree), let the notifications settle, and compare (apps/core/chaos_accounting.py)."""
    from apps.core.chaos_accounting import account_notifications, compare_events

    frozen = sim_clock(sim_port, {"speed": 0})
    time.sleep(1.0)  # the realtime handler's last batch
    code = "from apps.core.chaos_accounting import settle_and_collect; settle_and_collect()"
    data = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
    with urllib.request.urlopen(f"http://127.0.0.1:{sim_port}/_sim/conditions", timeout=10) as r:
        truth = json.loads(r.read())
    speed = CHAOS_SIM_SPEED
    margin = timedelta(seconds=3 * speed)  # a reconnect's catch-up search, the handler's batch
    blind = [
        (
            datetime.fromisoformat(r["sim_window"][0]) - margin,
            datetime.fromisoformat(r["sim_window"][1]) + margin,
        )
        for r in chaos_results
        if r["process"] in ("simulator", "realtime") and r.get("sim_window")
    ]
    events = compare_events(
        truth["changes"],
        data["events"],
        {seq for seq, c in data["conditions"].items() if c["realtime"]},
        start=start,
        blind=blind,
        slack=timedelta(seconds=10 * speed),
        final_members={tuple(m) for m in data["members"]},
    )
    alerts = account_notifications(
        data["events"], data["conditions"], data["notifications"], data["deliveries"], set(data["channels"])
    )  # fmt: skip
    return {
        "start": start.isoformat(),
        "frozen_at": frozen.isoformat() if frozen else None,
        "blind_windows": [[a.isoformat(), b.isoformat()] for a, b in blind],
        "events": events,
        "notifications": alerts,
        "realtime_conditions": sorted(s for s, c in data["conditions"].items() if c["realtime"]),
    }


def run(embedded: bool, timeout: float, chaos_bound: float | None = None) -> dict:
    var_dir = tempfile.mkdtemp(prefix="stackcheck-")
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["STOCKAGENT_VAR_DIR"] = var_dir
    env["PYTHONUNBUFFERED"] = "1"
    if embedded:
        for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
            env.pop(name, None)
    port = free_port()
    sim_port = free_port()
    env["KIWOOM_SIM_PORT"] = str(sim_port)  # never collide with a simulator already running here
    if chaos_bound:
        env.update(
            KIWOOM_SIM_DATE=CHAOS_SIM_DATE,
            KIWOOM_SIM_START_TIME=CHAOS_SIM_START,
            KIWOOM_SIM_SPEED=str(CHAOS_SIM_SPEED),
            KIWOOM_SIM_ROLL_ON="false",
        )

    setup_started = time.monotonic()
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    token = manage(env, "api_token", "trader").split()[3]
    if chaos_bound:
        # Every demo condition realtime (seed_demo switches on two), so the realtime feed's entries and
        # exits are counted on all of them.
        manage(env, "shell", "-c", "from apps.conditions.models import Condition; Condition.objects.update(realtime=True)")  # fmt: skip
    setup_seconds = time.monotonic() - setup_started

    log_path = Path(var_dir) / "stack.log"
    log = log_path.open("w")
    started = time.monotonic()
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    green_after = None
    report: dict | None = None
    while time.monotonic() - started < timeout:
        report = health(port, token)
        if report and report.get("ok"):
            green_after = time.monotonic() - started
            break
        if stack.poll() is not None:
            break
        time.sleep(0.25)

    root = psutil.Process(stack.pid)
    memory = memory_by_process(root) if stack.poll() is None else {}
    pss = pss_by_process(root) if stack.poll() is None else {}
    chaos_results: list[dict] = []
    accounting: dict = {}
    if chaos_bound and green_after is not None and stack.poll() is None:
        # Every condition is realtime: its subscription, before health went green, was its silent
        # baseline (what is in did not "enter" now). The comparison starts here.
        chaos_start = sim_clock(sim_port)
        chaos_results = chaos(var_dir, port, token, chaos_bound, sim_port)
        if chaos_start is not None:
            accounting = account(env, sim_port, chaos_results, chaos_start)
    tree = [root, *root.children(recursive=True)] if stack.poll() is None else []
    processes = sorted({classify(p) for p in tree[1:]} - {"other", "?"})

    stop_started = time.monotonic()
    stack.send_signal(signal.SIGINT)
    try:
        stack.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.kill()
    stop_seconds = time.monotonic() - stop_started
    time.sleep(0.5)
    leftovers = []
    for proc in tree:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                leftovers.append({"pid": proc.pid, "cmd": " ".join(proc.cmdline())[:200]})
                proc.kill()
        except psutil.Error:
            continue
    log.close()
    if accounting.get("events", {}).get("problems"):
        # What the realtime feed said about its conditions: a lost change is read against it.
        accounting["condition_log"] = condition_lines(log_path)
    return {
        "embedded": embedded,
        "setup_seconds": round(setup_seconds, 2),
        "green_after_seconds": round(green_after, 2) if green_after is not None else None,
        "stop_seconds": round(stop_seconds, 2),
        "processes": processes,
        "memory_mib": memory,
        "pss_mib": pss,
        "chaos": chaos_results,
        "accounting": accounting,
        "leftover_processes": leftovers,
        "last_health": report,
        "log_tail": log_path.read_text(errors="replace")[-4000:] if green_after is None else "",
    }


_CONDITION_WORDS = ("not restored", "no longer subscribed", "not subscribed", "disconnected")


def condition_lines(log_path: Path, most: int = 40) -> list[str]:
    """The stack log's lines on realtime conditions lost or refused and on feed disconnects (the last
    `most`), for a chaos run whose accounting found a problem."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    lines = [line[:300] for line in text.splitlines() if any(w in line for w in _CONDITION_WORDS)]
    return lines[-most:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedded", action="store_true", help="unset DATABASE_URL/REDIS_URL")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--chaos",
        type=float,
        default=0.0,
        metavar="BOUND",
        help="after green, SIGKILL each process in turn and wait up to BOUND s for green again",
    )
    parser.add_argument(
        "--lo-up", action="store_true", help="bring up loopback first (inside `unshare --net`)"
    )
    args = parser.parse_args()
    if args.lo_up:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    print(json.dumps(run(args.embedded, args.timeout, args.chaos), ensure_ascii=False))


if __name__ == "__main__":
    main()
