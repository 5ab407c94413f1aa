"""`manage.py run_telegram` as a real process against the fake bot API: a command runs, SIGTERM ends the
long poll at once, and a restarted process asks from its saved cursor (nothing replayed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.chatops import health
from apps.chatops.models import ChatCommand, TelegramLink
from apps.core.models import HealthStatus, RuntimeFlag
from apps.core.tests.factories import RuntimeFlagFactory
from apps.risk.services.gate import gate_status

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[3]
CHAT = 5001


def _start(fake_bot) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=fake_bot.base,
        TELEGRAM_POLL_TIMEOUT_SECONDS="20",
        NOTIFY_ALLOW_LOCAL_HOSTS="127.0.0.1",
    )
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_telegram"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)  # the supervisor's SIGKILL comes after 15 s
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError("run_telegram did not stop on SIGTERM") from None
    return proc.stdout.read().decode() if proc.stdout else ""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_process_runs_a_command_stops_and_resumes_from_its_cursor(fake_bot, trader) -> None:
    TelegramLink.objects.create(user=trader, chat_id=CHAT)
    flag = RuntimeFlagFactory(key="trading-enabled")
    RuntimeFlag.objects.filter(pk=flag.pk).update(enabled=True)
    proc = _start(fake_bot)
    try:
        update_id = fake_bot.say(CHAT, "/stop")
        assert _wait(lambda: fake_bot.replies(CHAT)), "no reply"
        assert gate_status()["switch"] is False
        assert [c["command"] for c in fake_bot.menu][:3] == ["status", "positions", "pnl"]
        assert _wait(lambda: health.telegram_probe(True)[0] == HealthStatus.OK)
        # it is now inside a 20 s long poll: SIGTERM must cut it short
        assert _wait(lambda: fake_bot.offsets and fake_bot.offsets[-1] == update_id + 1)
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert TOKEN not in output
    assert health.telegram_probe(True)[0] == HealthStatus.DOWN  # "stopped"

    RuntimeFlag.objects.filter(pk=flag.pk).update(enabled=True)
    polls = len(fake_bot.offsets)
    proc = _start(fake_bot)
    try:
        assert _wait(lambda: len(fake_bot.offsets) > polls)
        assert fake_bot.offsets[polls] == update_id + 1  # from the saved cursor, not from 0
        fake_bot.say(CHAT, "/status")
        assert _wait(lambda: len(fake_bot.replies(CHAT)) == 2)
    finally:
        _stop(proc)
    assert gate_status()["switch"] is True  # /stop did not run again
    assert list(ChatCommand.objects.order_by("update_id").values_list("command", flat=True)) == [
        "stop",
        "status",
    ]
