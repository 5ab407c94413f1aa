"""The whole stack as the README's run command starts it, for a test or a bench to drive while it runs:
a fresh var dir, migrate and seed_demo on the given database, then ``manage.py runstack`` until all-green
health; on exit Ctrl-C (SIGINT) and a kill of anything left over.

``running_stack(env, sim=...)`` yields a `Stack`: the web port, the simulator's port, the demo users'
passwords (seed_demo prints them once) and an API token of the trader. ``stackcheck`` measures the start-up
and the chaos round with the same helpers. ``fresh_database(kind)`` gives a test (or a probe) a PostgreSQL
database of its own for the stack, created empty and dropped afterwards (the pytest test database is no
good: a transactional test's flush removes what the migrations seed — role groups, beat schedules — and
`migrate` does not put it back).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from apps.core.stackcheck import ROOT, free_port, health, manage


@dataclass
class Stack:
    port: int
    sim_port: int
    token: str
    passwords: dict[str, str]
    env: dict[str, str]
    var_dir: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _passwords(seed_output: str) -> dict[str, str]:
    return dict(re.findall(r"username=(\S+) password=(\S+)", seed_output))


@contextlib.contextmanager
def fresh_database(kind: str, host: str = "127.0.0.1", user: str = "postgres") -> Iterator[str]:
    """An empty PostgreSQL database named for `kind` and the suite (`TEST_DATABASE_NAME`, so suites
    running side by side never share one); yields its URL; dropped on exit, stray connections too."""
    name = f"stockagent_{kind}_{os.environ.get('TEST_DATABASE_NAME') or 'test'}"
    drop = ["dropdb", "-h", host, "-U", user, "--if-exists", "--force", name]
    subprocess.run(drop, check=True)
    subprocess.run(["createdb", "-h", host, "-U", user, name], check=True)
    try:
        yield f"postgres://{user}@{host}:5432/{name}"
    finally:
        subprocess.run(drop, check=False)


@contextlib.contextmanager
def running_stack(
    env_overrides: dict[str, str],
    *,
    sim_date: str | None = None,
    sim_start: str | None = None,
    sim_speed: float | None = None,
    setup: Sequence[Sequence[str]] = (),
    timeout: float = 180.0,
) -> Iterator[Stack]:
    """`env_overrides`: DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX, SECRET_KEY, ... of this run. `sim_*`:
    the simulator's trading day, start time (KST, HH:MM) and speed. `setup`: manage.py commands run after
    seed_demo, before the stack starts."""
    var_dir = tempfile.mkdtemp(prefix="stackrun-")
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("TEST_DATABASE_NAME", None)
    env.update(env_overrides)
    env["STOCKAGENT_VAR_DIR"] = var_dir
    env["PYTHONUNBUFFERED"] = "1"
    port, sim_port = free_port(), free_port()
    env["KIWOOM_SIM_PORT"] = str(sim_port)
    if sim_date:
        env["KIWOOM_SIM_DATE"] = sim_date
        env["KIWOOM_SIM_ROLL_ON"] = "false"
    if sim_start:
        env["KIWOOM_SIM_START_TIME"] = sim_start
    if sim_speed is not None:
        env["KIWOOM_SIM_SPEED"] = str(sim_speed)
    manage(env, "migrate", "--noinput", "-v0")
    passwords = _passwords(manage(env, "seed_demo"))
    token = manage(env, "api_token", "trader").split()[3]
    for command in setup:
        manage(env, *command)
    log_path = Path(var_dir) / "stack.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runstack", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack = Stack(port, sim_port, token, passwords, env, var_dir, proc, log_path)
        try:
            started = time.monotonic()
            while True:
                report = health(port, token)
                if report and report.get("ok"):
                    break
                if proc.poll() is not None or time.monotonic() - started > timeout:
                    raise RuntimeError(f"the stack did not turn green:\n{stack.log_tail()}")
                time.sleep(0.25)
            yield stack
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.Error:
        tree = []
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    for child in tree:
        with contextlib.suppress(psutil.Error):
            if child.is_running():
                child.kill()
