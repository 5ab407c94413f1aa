"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, and a live Daphne server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture
def browser():
    """Function-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this thread for as
    long as it is open, which would break every async test that runs after a browser test."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API refuses to run inside a running asyncio loop; pytest-asyncio leaves none here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def daphne_server(log_path=None, **extra_env: str):
    """A real Daphne process serving the project over the test database (committed data only); `extra_env`
    overrides its environment (e.g. REDIS_URL for a private Redis); its output goes to `log_path` when given.

    A separate process rather than a fork of the test process: a fork inherits open database/Redis
    connections and executor threads of the test process, which break its WebSocket handling."""
    db = connection.settings_dict
    port = _free_port()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        **extra_env,
    )
    env.pop("TEST_DATABASE_NAME", None)
    output = open(log_path, "wb") if log_path else subprocess.PIPE  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "stockagent.asgi:application"],
        cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
    if proc.poll() is not None:
        text = Path(log_path).read_bytes() if log_path else proc.stdout.read()
        pytest.fail(f"daphne did not start:\n{text.decode(errors='replace')[-3000:]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            output.close()


@pytest.fixture
def asgi_server(transactional_db):
    """A real Daphne process serving the project over the test database (see `daphne_server`)."""
    with daphne_server() as url:
        yield url
