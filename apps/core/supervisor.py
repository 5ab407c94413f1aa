"""The process supervisor behind ``manage.py runstack``: starts every process of the stack, restarts a dead one
with exponential backoff, keeps the others running, collects their output into one log, and stops them all.

- Each process is exec'd directly (argv list, no shell, no forked wrapper) in its own session, so its process
  group holds it and any children it forks (a Celery worker's pool); stopping or cleaning up signals the group.
- A process that exits while the stack runs is marked ``down`` at once, logged with its exit status, and
  started again after ``backoff_base * 2**n`` seconds (0.25, 0.5, 1 … by default) (capped at ``backoff_max``); ``n`` counts the restarts
  since the process last stayed up for ``stable_after`` seconds.
- The state of every process (``starting`` / ``up`` / ``down`` / ``stopped``) is written to a JSON file
  (``process_state_path()``) each time it changes; the health report reads it, so a dead process shows red
  without waiting for its heartbeat to go stale.
- Every process's stdout and stderr go through a pipe to this process, which is the only writer of the stack's
  log file (rotation by one writer never loses lines) and echoes each line, prefixed with the process name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import logging.handlers
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

STARTING, UP, DOWN, STOPPED = "starting", "up", "down", "stopped"


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the stack. ``component`` is the health component it backs (None: none);
    ``ready_port`` makes it ``up`` once the port accepts connections, otherwise once it has stayed alive
    ``ready_after`` seconds."""

    name: str
    argv: list[str]
    component: str | None = None
    ready_port: tuple[str, int] | None = None
    ready_after: float = 2.0


@dataclass
class _Running:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes] | None = None
    state: str = STOPPED
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # restarts since the process last stayed up `stable_after` seconds
    next_start: float = 0.0
    last_exit: int | None = None
    since: str = ""
    started: str = ""  # wall time of the current process's start (ISO)
    reader: threading.Thread | None = None
    extra: dict = field(default_factory=dict)


class _KeepingRotatingFileHandler(logging.handlers.TimedRotatingFileHandler):
    """A rollover never replaces an archive: Python's handler deletes an existing file of the target
    name (two rollovers named alike — a restart after midnight, a clock set back — would lose a
    day's lines), so a taken name gets a `.1`, `.2`, … suffix (the backup cleanup still matches it)."""

    def rotation_filename(self, default_name: str) -> str:
        name = super().rotation_filename(default_name)
        candidate, n = name, 1
        while os.path.exists(candidate):
            candidate, n = f"{name}.{n}", n + 1
        return candidate


class LogCollector:
    """The one writer of the stack's log file: every line of every process, prefixed with its name."""

    def __init__(
        self,
        path: Path | None,
        *,
        echo: IO[str] | None = None,
        when: str = "midnight",
        interval: int = 1,
        backups: int = 14,
    ) -> None:
        self._lock = threading.Lock()
        self._echo = echo
        self.handler: logging.handlers.TimedRotatingFileHandler | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handler = _KeepingRotatingFileHandler(
                path, when=when, interval=interval, backupCount=backups, encoding="utf-8"
            )
            self.handler.setFormatter(logging.Formatter("%(message)s"))

    def line(self, name: str, text: str) -> None:
        message = f"{name:<10s}| {text}"
        with self._lock:
            if self.handler is not None:
                record = logging.LogRecord(name, logging.INFO, "", 0, message, None, None)
                self.handler.emit(record)  # emit() rolls the file over first when it is due
            if self._echo is not None:
                try:
                    self._echo.write(message + "\n")
                    self._echo.flush()
                except (OSError, ValueError):
                    pass

    def close(self) -> None:
        with self._lock:
            if self.handler is not None:
                self.handler.close()


def _port_open(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.3):
            return True
    except OSError:
        return False


def _now_iso() -> str:
    # Milliseconds: the health report compares a process's start with its last heartbeat.
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Supervisor:
    def __init__(
        self,
        specs: list[ProcessSpec],
        *,
        env: dict[str, str],
        cwd: str,
        state_path: Path,
        collector: LogCollector,
        backoff_base: float = 0.25,
        backoff_max: float = 60.0,
        stable_after: float = 30.0,
        stop_timeout: float = 15.0,
        tick: float = 0.1,
    ) -> None:
        self.procs = {spec.name: _Running(spec) for spec in specs}
        self.env = env
        self.cwd = cwd
        self.state_path = state_path
        self.collector = collector
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.tick = tick
        self._stop = threading.Event()

    # --- control -------------------------------------------------------------------------------------
    def request_stop(self, *_args: object) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def run(self, *, until: Callable[[], bool] | None = None) -> int:
        """Start everything and supervise until a stop is requested (or ``until()`` holds); 0 on a clean stop."""
        for proc in self.procs.values():
            self._start(proc)
        self._write_state()
        try:
            while not self._stop.is_set() and not (until and until()):
                self.step()
                self._stop.wait(self.tick)
        finally:
            self.stop_all()
        return 0

    def step(self) -> None:
        """One pass: notice exits, start what is due, promote started processes that are ready."""
        now = time.monotonic()
        changed = False
        for proc in self.procs.values():
            if proc.popen is not None and proc.popen.poll() is not None:
                self._on_exit(proc, now)
                changed = True
            elif proc.popen is None and proc.state == DOWN and now >= proc.next_start:
                self._start(proc)
                changed = True
            elif proc.state == STARTING and self._ready(proc, now):
                proc.state, proc.since = UP, _now_iso()
                changed = True
                if proc.restarts:
                    pid = proc.popen.pid if proc.popen else "?"
                    self.collector.line(
                        "runstack", f"process {proc.spec.name} is up again (pid {pid})"
                    )
            if proc.state == UP and proc.failures and now - proc.started_at >= self.stable_after:
                proc.failures = (
                    0  # it stayed up: the next crash starts the backoff from the beginning
                )
        if changed:
            self._write_state()

    # --- one process ------------------------------------------------------------------------------------
    def _start(self, proc: _Running) -> None:
        spec = proc.spec
        try:
            proc.popen = subprocess.Popen(
                spec.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach its children too
            )
        except OSError as exc:
            proc.popen = None
            self._schedule_restart(proc, time.monotonic(), reason=f"start failed ({exc})")
            return
        proc.state, proc.since = STARTING, _now_iso()
        proc.started, proc.started_at = proc.since, time.monotonic()
        stream = proc.popen.stdout
        assert stream is not None
        proc.reader = threading.Thread(
            target=self._pump, args=(spec.name, stream), name=f"log-{spec.name}", daemon=True
        )
        proc.reader.start()
        self.collector.line("runstack", f"started {spec.name} (pid {proc.popen.pid})")

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.collector.line(name, raw.decode("utf-8", errors="replace").rstrip("\n"))
        stream.close()

    def _ready(self, proc: _Running, now: float) -> bool:
        if proc.spec.ready_port is not None:
            return _port_open(proc.spec.ready_port)
        return now - proc.started_at >= proc.spec.ready_after

    def _on_exit(self, proc: _Running, now: float) -> None:
        assert proc.popen is not None
        code = proc.popen.returncode
        pid = proc.popen.pid
        self._kill_group(
            pid, signal.SIGKILL
        )  # children it left behind (a worker's pool) go with it
        if proc.reader is not None:
            proc.reader.join(timeout=2)
        proc.popen, proc.last_exit = None, code
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        self._schedule_restart(proc, now, reason=f"pid {pid} died ({how})")

    def _schedule_restart(self, proc: _Running, now: float, *, reason: str) -> None:
        delay = min(self.backoff_max, self.backoff_base * 2**proc.failures)
        proc.failures += 1
        proc.restarts += 1
        proc.state, proc.since = DOWN, _now_iso()
        proc.next_start = now + delay
        message = (
            f"process {proc.spec.name} {reason}; restart #{proc.restarts} in {delay:.1f}s "
            f"(the other processes keep running)"
        )
        self.collector.line("runstack", message)

    @staticmethod
    def _kill_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    # --- stop ---------------------------------------------------------------------------------------------
    def stop_all(self) -> None:
        """SIGTERM every process group, wait up to ``stop_timeout``, SIGKILL what is left; no orphans."""
        running = [p for p in self.procs.values() if p.popen is not None]
        for proc in running:
            assert proc.popen is not None
            self._kill_group(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for proc in running:
            assert proc.popen is not None
            try:
                proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.collector.line("runstack", f"{proc.spec.name} did not stop in time: SIGKILL")
        for proc in running:
            assert proc.popen is not None
            self._kill_group(proc.popen.pid, signal.SIGKILL)  # the group's stragglers
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
            if proc.reader is not None:
                proc.reader.join(timeout=2)
            proc.popen = None
        for proc in self.procs.values():
            proc.state, proc.since = STOPPED, _now_iso()
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()

    # --- state file -----------------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        now = time.monotonic()
        return {
            "supervisor_pid": os.getpid(),
            "updated": _now_iso(),
            "processes": {
                name: {
                    "state": p.state,
                    "component": p.spec.component,
                    "pid": p.popen.pid if p.popen else None,
                    "since": p.since,
                    "started": p.started if p.popen else None,
                    "restarts": p.restarts,
                    "last_exit": p.last_exit,
                    "next_start_in": round(max(0.0, p.next_start - now), 1)
                    if p.state == DOWN
                    else None,
                }
                for name, p in self.procs.items()
            },
        }

    def _write_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".processes-")
        with os.fdopen(fd, "w") as fh:
            json.dump(self.snapshot(), fh)
        os.replace(
            tmp, self.state_path
        )  # readers see the old file or the new one, never half of one


def process_state_path() -> Path:
    """Where the supervisor writes each process's state and the health report reads it."""
    from django.conf import settings

    return Path(settings.VAR_DIR) / "run" / "processes.json"


def read_process_states(path: Path) -> dict[str, dict]:
    """The processes a live supervisor reported (empty when none runs: no file, or its supervisor is gone)."""
    try:
        data = json.loads(path.read_text())
        pid = int(data["supervisor_pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    processes = data.get("processes")
    return processes if isinstance(processes, dict) else {}


# --- entry point: runstack prepares a config and execs ``python -m apps.core.supervisor CONFIG`` ------------
# The supervisor then runs without Django loaded (~15 MiB instead of the ~120 MiB of a Django process).


def write_config(path: Path, specs: list[ProcessSpec], **options: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"specs": [asdict(s) for s in specs], **options}
    path.write_text(json.dumps(config, default=str))
    path.chmod(0o600)  # the environment it carries may hold secrets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="StockAgent process supervisor (started by runstack)"
    )
    parser.add_argument("config")
    args = parser.parse_args(argv)
    config = json.loads(Path(args.config).read_text())
    Path(args.config).unlink()
    specs = [
        ProcessSpec(
            name=s["name"],
            argv=list(s["argv"]),
            component=s.get("component"),
            ready_port=tuple(s["ready_port"]) if s.get("ready_port") else None,
            ready_after=float(s.get("ready_after", 2.0)),
        )
        for s in config["specs"]
    ]
    collector = LogCollector(
        Path(config["log_path"]) if config.get("log_path") else None,
        echo=sys.stdout,
        backups=int(config.get("log_backups", 14)),
    )
    supervisor = Supervisor(
        specs,
        env=config["env"],
        cwd=config["cwd"],
        state_path=Path(config["state_path"]),
        collector=collector,
        backoff_base=float(config.get("backoff_base", 0.25)),
        backoff_max=float(config.get("backoff_max", 60.0)),
    )
    supervisor.install_signal_handlers()
    collector.line("runstack", config.get("banner", "starting"))
    try:
        return supervisor.run()
    finally:
        collector.line("runstack", "stopped")
        collector.close()


if __name__ == "__main__":
    sys.exit(main())
