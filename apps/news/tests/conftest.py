"""Fixtures of the news tests: a clean news state (breaker, cache, clients) per test, a dead service and a
counting HTTP server on real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.conf import settings


def _clear_news_keys() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    with client:
        keys = list(client.scan_iter(f"{settings.REDIS_KEY_PREFIX}stockagent:news:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_news():
    from apps.news import scores

    scores.reset()
    _clear_news_keys()
    yield
    scores.reset()
    _clear_news_keys()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_url() -> str:
    """A URL nothing listens on (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


@dataclass
class FakeService:
    """A news-score service on a real socket: answers `status` with `body`, counts requests."""

    url: str = ""
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def fake_service() -> Iterator[FakeService]:
    state = FakeService()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            return None

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            return None  # a client that gave up (a broken pipe) is part of the tests

    server = Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
