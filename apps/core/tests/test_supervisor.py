"""The runstack supervisor: a dead process is restarted (backoff, log line) while the others keep running,
its state is written at once for the health report, the log has one writer and loses no line at rollover,
and a stop leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from apps.core.supervisor import (
    DOWN,
    UP,
    LogCollector,
    ProcessSpec,
    Supervisor,
    read_process_states,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _supervisor(tmp_path: Path, specs: list[ProcessSpec], **kwargs) -> Supervisor:
    return Supervisor(
        specs,
        env=dict(os.environ),
        cwd=str(tmp_path),
        state_path=tmp_path / "run" / "processes.json",
        collector=kwargs.pop("collector", LogCollector(tmp_path / "stack.log")),
        tick=0.05,
        **kwargs,
    )


def _run_in_thread(sup: Supervisor) -> threading.Thread:
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    return thread


def test_a_killed_process_is_restarted_with_backoff_and_the_others_keep_running(tmp_path):
    sup = _supervisor(
        tmp_path,
        [ProcessSpec("a", SLEEPER, "worker", ready_after=0.2), ProcessSpec("b", SLEEPER, "beat")],
        backoff_base=0.2,
    )
    thread = _run_in_thread(sup)
    try:
        assert _wait(lambda: all(p.state == UP for p in sup.procs.values()))
        first_a, first_b = sup.procs["a"].popen.pid, sup.procs["b"].popen.pid
        os.kill(first_a, signal.SIGKILL)

        # Down at once in the state file the health report reads (no stale heartbeat to wait for).
        assert _wait(lambda: read_process_states(sup.state_path).get("a", {}).get("state") == DOWN)
        assert _wait(lambda: sup.procs["a"].state == UP and sup.procs["a"].popen.pid != first_a)
        assert sup.procs["b"].popen.pid == first_b  # the other process was left alone
        states = read_process_states(sup.state_path)
        assert states["a"]["restarts"] == 1 and states["a"]["state"] == UP
        assert states["b"]["restarts"] == 0
        log = (tmp_path / "stack.log").read_text()
        assert f"process a pid {first_a} died (signal 9); restart #1 in 0.2s" in log

        # A second crash soon after waits twice as long (exponential backoff).
        os.kill(sup.procs["a"].popen.pid, signal.SIGKILL)
        assert _wait(lambda: "restart #2 in 0.4s" in (tmp_path / "stack.log").read_text())
    finally:
        sup.request_stop()
        thread.join(30)
    assert not sup.state_path.exists()  # a stopped stack reports nothing


def test_stop_leaves_no_process_behind_even_a_forked_child(tmp_path):
    # A process that forks a child (like a Celery worker's pool): the whole process group goes.
    forker = [
        sys.executable,
        "-c",
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; "
        "time.sleep(120)']); time.sleep(120)",
    ]
    sup = _supervisor(tmp_path, [ProcessSpec("forker", forker, ready_after=0.5)])
    thread = _run_in_thread(sup)
    assert _wait(lambda: sup.procs["forker"].popen is not None)
    parent = psutil.Process(sup.procs["forker"].popen.pid)
    assert _wait(lambda: len(parent.children()) == 1)
    tree = [parent, *parent.children()]
    sup.request_stop()
    thread.join(30)

    def alive(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    # A signalled process may take a moment to be scheduled and exit on a loaded machine.
    assert _wait(lambda: not any(alive(p) for p in tree), timeout=10)


def test_rotation_under_load_loses_no_line(tmp_path):
    """Four processes write 8,000 lines each while the log file is rolled over twice: every line is
    in the log files afterwards (one writer, so a rollover cannot cut another process's lines off)."""
    lines, writers = 8000, 4
    # Each writer writes a quarter of its lines, then waits for the first forced rollover, another
    # quarter, waits for the second: so both rollovers fall while the writers are still writing, on a
    # fast machine too (a fixed sleep let them finish before the second one).
    marks = tmp_path / "rolled"
    marks.mkdir()
    script = (
        "import os, sys, time\n"
        f"for i in range({lines}):\n"
        f"    if i in ({lines // 4}, {lines // 2}):\n"
        f"        k = i // {lines // 4}\n"
        "        t = time.time()\n"
        "        while not os.path.exists(os.path.join(sys.argv[2], str(k))) and time.time() - t < 30:\n"
        "            time.sleep(0.02)\n"
        "    print(f'{sys.argv[1]} line {i}', flush=True)\n"
    )
    collector = LogCollector(tmp_path / "log" / "stockagent.log", when="S", backups=100)
    specs = [
        ProcessSpec(f"p{n}", [sys.executable, "-c", script, f"p{n}", str(marks)], ready_after=0.1)
        for n in range(writers)
    ]
    sup = _supervisor(tmp_path, specs, collector=collector, backoff_base=1000)
    done = threading.Event()

    def force_rollovers() -> None:
        for k in (1, 2):
            time.sleep(1.1)  # rotated files are named by the second: one rollover a second at most
            # The next line rolls the file over, as at midnight; the handler also rolls every
            # second by itself, so two archives may be named alike: none may be replaced.
            collector.handler.rolloverAt = int(time.time())
            (marks / str(k)).touch()  # the writers go on: the rollover happens under their load

    roller = threading.Thread(target=force_rollovers)
    roller.start()
    sup.run(until=lambda: done.is_set() or all(p.popen is None for p in sup.procs.values()))
    roller.join()
    collector.close()
    files = sorted((tmp_path / "log").glob("stockagent.log*"))
    assert len(files) >= 3  # really rotated twice
    text = "".join(f.read_text() for f in files)
    for n in range(writers):
        assert text.count(f"| p{n} line ") == lines


def test_the_settings_give_no_process_a_shared_log_file(settings):
    # Every process rotating var/log/stockagent.log itself lost a day's lines at midnight: by default a
    # process logs to stdout only (runstack collects), and a file is a per-process opt-in (LOG_FILE).
    assert "file" not in settings.LOGGING["handlers"]
    assert settings.LOGGING["root"]["handlers"] == ["console"]


@pytest.mark.django_db
def test_health_shows_a_process_the_supervisor_reports_down_at_once(settings, tmp_path, client):
    from django.utils import timezone

    from apps.core.selectors import health_report
    from apps.core.tests.factories import SystemStatusFactory

    settings.VAR_DIR = tmp_path
    SystemStatusFactory(component="worker", status="ok", last_seen=timezone.now())
    state = {
        "supervisor_pid": os.getpid(),
        "processes": {
            "worker-notify": {"state": "down", "component": "worker", "restarts": 2},
            "worker-orders": {"state": "up", "component": "worker", "restarts": 0},
        },
    }
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "processes.json").write_text(json.dumps(state))
    worker = next(c for c in health_report()["components"] if c["component"] == "worker")
    assert worker["status"] == "down"
    assert worker["message"] == "process worker-notify: down (restart #2)"

    # A supervisor that is gone reports nothing: the heartbeat rules again.
    state["supervisor_pid"] = 2**22 + 12345
    (tmp_path / "run" / "processes.json").write_text(json.dumps(state))
    worker = next(c for c in health_report()["components"] if c["component"] == "worker")
    assert worker["status"] == "ok"


@pytest.mark.django_db
def test_a_restarted_process_is_not_green_on_its_previous_lifes_heartbeat(settings, tmp_path):
    """The realtime process restarted 1 s ago (the supervisor says up: alive for its 2 s) is still loading
    or connecting: its heartbeat row from before the kill must not show it ok."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.selectors import health_report
    from apps.core.tests.factories import SystemStatusFactory

    settings.VAR_DIR = tmp_path
    now = timezone.now()
    row = SystemStatusFactory(
        component="realtime", status="ok", last_seen=now - timedelta(seconds=3)
    )
    state = {
        "supervisor_pid": os.getpid(),
        "processes": {
            "realtime": {"state": "up", "component": "realtime", "restarts": 1,
                         "started": (now - timedelta(seconds=1)).isoformat(timespec="milliseconds")},
        },
    }  # fmt: skip
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "processes.json").write_text(json.dumps(state))

    def realtime() -> dict:
        return next(c for c in health_report()["components"] if c["component"] == "realtime")

    assert realtime()["status"] == "down"
    assert realtime()["message"] == "process realtime: started, no heartbeat yet"
    row.last_seen = timezone.now()  # the new process's first heartbeat
    row.save()
    assert realtime()["status"] == "ok"


def test_a_rollover_never_replaces_an_archive(tmp_path):
    """Two rollovers whose archives would get the same name (a restart after midnight, a clock set
    back) keep both: Python's handler alone deletes the older archive."""
    collector = LogCollector(tmp_path / "log" / "stockagent.log", when="midnight")
    for n in range(3):
        collector.line("p", f"line {n}")
        collector.handler.rolloverAt = 0  # due now, and named after the same (1970) day each time
    collector.line("p", "last")
    collector.close()
    text = "".join(p.read_text() for p in (tmp_path / "log").glob("stockagent.log*"))
    assert [f"line {n}" in text for n in range(3)] == [True, True, True] and "last" in text
    assert len(list((tmp_path / "log").glob("stockagent.log*"))) == 4
