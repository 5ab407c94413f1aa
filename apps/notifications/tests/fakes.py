"""Local fake servers over real sockets: an HTTP server standing in for Slack's incoming webhook and
Telegram's bot API, and an SMTP server (aiosmtpd). All listen on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    at: float  # time.monotonic() when the request arrived (benchmarks only; tests never assert on it)


@dataclass
class FakeHTTPServer:
    """Records each POST; answers ``status`` with ``reply`` (JSON). With ``hang`` set, requests block until
    ``release`` is set (or 30 s), standing in for a channel that never answers."""

    status: int = 200
    reply: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)

    def start(self) -> FakeHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                with fake.arrived:
                    fake.requests.append(Received(self.path, body, time.monotonic()))
                    fake.arrived.notify_all()
                if fake.hang:
                    fake.release.wait(30)
                payload = json.dumps(fake.reply).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def wait_for(self, count: int, timeout: float = 20) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


class _Collect:
    def __init__(self, server: FakeSMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.test"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.server.messages.append(msg)  # type: ignore[arg-type]
        if self.server.hang:  # took the message, never confirms it (the client is left waiting)
            await asyncio.sleep(30)
        return "250 Message accepted"


class FakeSMTPServer:
    """aiosmtpd on its own event loop thread, listening on 127.0.0.1 port 0."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0
        self.hang = False

    def start(self) -> FakeSMTPServer:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            handler = _Collect(self)
            server = self._loop.run_until_complete(
                self._loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
            )
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        def close() -> None:
            self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(close)
        self._thread.join(5)


def start_worker(env_overrides: dict[str, str], *, concurrency: int = 4) -> subprocess.Popen[bytes]:
    """A real Celery worker process (thread pool, so a hanging send holds one slot, not the worker),
    in its own process group. The caller stops it with ``stop_worker``."""
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="stockagent.settings_test", **env_overrides)
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-P", "threads",
         "-c", str(concurrency), "-l", "WARNING", "-n", f"notify-{os.getpid()}@%h",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop_worker(proc: subprocess.Popen[bytes]) -> str:
    """Stop the worker (SIGTERM, then SIGKILL) and return the tail of what it printed."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return (out or b"").decode(errors="replace")[-3000:]


def wait_until(predicate: Callable[[], bool], timeout: float = 30, every: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes (for state another process changes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()
